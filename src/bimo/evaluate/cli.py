"""`bimo eval`: length scores, LLM judging, side-by-side comparison, ratings, reports.

Thin layer: parse arguments, call the library, print. Heavy imports happen inside
the commands so `bimo --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bimo.errors import BimoError
from bimo.evaluate.defaults import AGREEMENT_ITEMS, ROUNDS

app = typer.Typer(help="Evaluate writing: length score, LLM judges, win rates, ratings, reports.",
                  no_args_is_help=True)

JudgeOpt = Annotated[str | None, typer.Option("--judge", "-j", help="judge backend URI (default: $BIMO_JUDGE or local:default, the embedded model)")]
# Judge options default to None: an option not given keeps JudgeSettings' own default.
TempOpt = Annotated[float | None, typer.Option("--temperature", help="judge temperature (recorded)")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="judge seed (recorded; retries use the next seeds)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]
MaxTokOpt = Annotated[int | None, typer.Option("--max-tokens", min=16, help="longest judge answer, in tokens")]
RetriesOpt = Annotated[int | None, typer.Option("--retries", help="extra tries after malformed output")]


SamplesOpt = Annotated[int | None, typer.Option("--samples", help="verdicts per order by majority vote (a split vote is a tie); needs --temperature above 0")]
OneOrderOpt = Annotated[bool, typer.Option("--one-order", help="judge each pair in one order only (a coin per pair picks which) instead of both")]
RubricTypeOpt = Annotated[str | None, typer.Option("--rubric-type", help="auto: the pair's task/genre/category/domain picks a writing type's rubric when one exists; or a type for every pair")]


def _settings(judge: str | None, **options: Any):
    from bimo.cliutil import given
    from bimo.evaluate.judge_step import JudgeSettings, default_judge

    return JudgeSettings(judge=judge or default_judge(), **given(**options))


def _pair_settings(judge: str | None, rubric: str, samples: int | None, one_order: bool, rubric_type: str | None,
                   **options: Any):
    """Settings of a pairwise judge with its options, checked before any model is loaded."""
    from bimo.evaluate.pairjudge import check_options, check_rubric

    check_rubric(rubric)
    if samples is not None and samples < 1:
        raise BimoError(f"--samples must be 1 or more, got {samples}")
    settings = _settings(judge, samples=samples, rubric_type=rubric_type, **options)
    settings.both_orders = not one_order
    check_options(settings)
    return settings


def _backend(uri: str):
    """The judge backend; a seam the tests replace with a scripted one."""
    from bimo.llm import get_backend

    return get_backend(uri)


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def _need_file(path: Path) -> None:
    if not path.exists():
        raise BimoError(f"file not found: {path}")


@app.command()
def length(pred: Annotated[Path, typer.Argument(help="JSONL with prompt, response, length (required length)")],
           as_json: JsonOpt = False,
           per_record: Annotated[bool, typer.Option("--per-record", help="also list S_l per record")] = False,
           max_repeat: Annotated[float, typer.Option("--max-repeat", min=0, max=1,
                                                     help="flag records repeating more of their 8-grams")] = 0.08) -> None:
    """LongBench-Write length score S_l with integrity: S_l on the effective length (repeats
    taken out), repeated 8-grams, leaks and dangling endings, per record and per bucket.
    Records over the thresholds (docs/write.md) are flagged with their reasons."""
    from bimo.evaluate.length import score_records
    from bimo.integrity import IntegrityThresholds
    from bimo.io import iter_jsonl

    _need_file(pred)
    res = score_records(iter_jsonl(pred), source=str(pred),
                        thresholds=IntegrityThresholds(max_repeated_share=max_repeat))
    if not res["n"]:
        raise BimoError(f"{pred}: no records")
    if as_json:
        if not per_record:
            res = {k: v for k, v in res.items() if k != "records"}
        _print_json(res)
        return
    if per_record:
        for r in res["records"]:
            typer.echo(f"{r['id']}\trequired={r['required']:g}\tproduced={r['produced']}\tS_l={r['s_l']:.1f}"
                       f"\teffective={r['effective_length']}\tS_l_eff={r['s_l_eff']:.1f}"
                       f"\trepeated={r['repeated_share']:.1%}\tnear={r['near_repeats']:.1%}\tleaks={r['leaks']}"
                       f"\tscaffolding={r['scaffolding']}\tending={r['ending'] or 'ok'}"
                       + (f"\tFLAGGED: {'; '.join(r['flags'])}" if r["flags"] else ""))
    typer.echo(f"S_l = {res['s_l']:.1f}, on effective length {res['s_l_eff']:.1f}, over {res['n']} records; "
               f"repeated 8-grams mean {res['repeated_share']:.1%} (max {res['max_repeated_share']:.1%}); "
               f"near repeats {res['near_repeats']:.1%}; leaks {res['leaks']}; lines about the writing "
               f"{res['scaffolding']}; dangling endings {res['dangling']}; flagged {res['flagged']}")
    for b, v in res["buckets"].items():
        typer.echo(f"  {b:>12}  n={v['n']:<5} S_l={v['s_l']:.1f}  S_l_eff={v['s_l_eff']:.1f}  "
                   f"repeated={v['repeated_share']:.1%}  flagged={v['flagged']}")


@app.command()
def judge(pred: Annotated[Path, typer.Argument(help="predictions JSONL (prompt, response; optional id, input, lang, domain, task)")],
          rubric: Annotated[str, typer.Option("--rubric", "-r", help="writebench | longbench | criteria")] = "writebench",
          judge_uri: JudgeOpt = None,
          out: Annotated[Path | None, typer.Option("--out", "-o", help="judgments JSONL (default: PRED.RUBRIC.judged.jsonl)")] = None,
          name: Annotated[str | None, typer.Option("--name", help="model name (default: file name)")] = None,
          criteria: Annotated[Path | None, typer.Option("--criteria", help="shared criteria file (criteria rubric)")] = None,
          limit: Annotated[int | None, typer.Option("--limit", help="judge only the first N records")] = None,
          temperature: TempOpt = None, seed: SeedOpt = None, retries: RetriesOpt = None,
          max_tokens: MaxTokOpt = None, as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Pointwise judging with a rubric; failures go to OUT's .errors.jsonl with the reason.

    Resumable: items already judged in OUT are skipped, earlier failures are tried again.
    """
    from bimo.evaluate.judge import judge_file
    from bimo.evaluate.predictions import load_predictions, model_name
    from bimo.evaluate.rubric import load_rubric

    load_rubric(rubric)
    load_predictions(pred)  # fail on bad input before loading a model
    settings = _settings(judge_uri, temperature=temperature, seed=seed, retries=retries, max_tokens=max_tokens)
    out = out or pred.with_name(f"{model_name(pred)}.{rubric}.judged.jsonl")
    be = _backend(settings.judge)
    try:
        summary = judge_file(pred, rubric, be, out, settings, name=name, limit=limit, criteria_path=criteria,
                             progress=not quiet)
    finally:
        be.close()
    _warn_small(settings.judge)
    if as_json:
        _print_json(summary)
        return
    typer.echo(f"judged {summary['judged_now']}, failed {summary['failed_now']}, already done {summary['skipped_done']}"
               f" -> {summary['out']}")
    for row in summary["models"]:
        dims = "  ".join(f"{k}={v:.2f}" for k, v in row["dimensions"].items())
        typer.echo(f"{row['model']} [{row['rubric']}] n={row['n']} overall={row['overall']:.2f}  {dims}")
    if summary["failed_now"]:
        typer.echo(f"failures with reasons: {summary['errors']}", err=True)


@app.command()
def compare(preds: Annotated[list[Path], typer.Argument(help="two or more predictions JSONL files (prompt, response)")],
            judge_uri: JudgeOpt = None,
            out: Annotated[Path, typer.Option("--out", "-o", help="battles JSONL (appended, resumable)")] = Path("battles.jsonl"),
            names: Annotated[str | None, typer.Option("--names", help="comma-separated model names (default: file names)")] = None,
            store: Annotated[Path | None, typer.Option("--store", help="also add the battles to this SQLite store (skipping those already there)")] = None,
            limit: Annotated[int | None, typer.Option("--limit", help="first N shared prompts per pair")] = None,
            rounds: Annotated[int, typer.Option("--rounds", help="bootstrap rounds")] = ROUNDS,
            temperature: TempOpt = None, seed: SeedOpt = None, retries: RetriesOpt = None,
            max_tokens: MaxTokOpt = None, as_json: JsonOpt = False, quiet: QuietOpt = False,
            calibration: Annotated[Path | None, typer.Option("--calibration", help="the judge's calibration.json (bimo eval calibrate): its figures are printed beside the win rates")] = None,
            rubric: Annotated[str, typer.Option("--rubric", help="pairwise rubric: pairwise | pairwise-criteria (criteria first) | pairwise-forced (no ties) | pairwise-logprob (verdict from the letter's probability in both orders)")] = "pairwise",
            samples: SamplesOpt = None, one_order: OneOrderOpt = False, rubric_type: RubricTypeOpt = None) -> None:
    """Side-by-side judging in both orders; prints win rates with 95% intervals, and the
    length-controlled win rate with its 95% interval. "better"/"worse" only when the
    interval clears the 45-55% band."""
    from bimo.evaluate.pairwise import compare_files
    from bimo.evaluate.predictions import load_predictions
    from bimo.evaluate.winrate import pair_summary
    from bimo.io import errors_path

    if len(preds) < 2:
        raise BimoError("compare needs at least two prediction files")
    for p in preds:
        load_predictions(p)
    name_list = [n.strip() for n in names.split(",")] if names else None
    settings = _pair_settings(judge_uri, rubric, samples, one_order, rubric_type, temperature=temperature, seed=seed,
                              retries=retries, max_tokens=max_tokens)
    cal_line, cal_warn = None, None
    if calibration is not None:  # read first: a bad file fails before any judging
        from bimo.evaluate.calibrate import calibration_figures
        from bimo.evaluate.pairjudge import judge_settings_record

        cal = calibration_figures(calibration, settings=judge_settings_record(settings, rubric), allow_other=True)
        cal_line, cal_warn = cal["line"], cal["warning"]
    st = None
    if store is not None:  # opened first: a bad store fails before any judging
        from bimo.evaluate.store import BattleStore

        st = BattleStore(store)
    be = _backend(settings.judge)
    try:
        battles = compare_files(preds, be, out, settings, names=name_list, limit=limit, progress=not quiet,
                                rubric=rubric)
    finally:
        be.close()
    added = st.import_battles(battles)[0] if st is not None else None
    models = name_list or [_stem(p) for p in preds]
    pairs = [pair_summary(battles, a, b, rounds=rounds) for i, a in enumerate(models) for b in models[i + 1:]]
    failed, duplicates = _count_failures(errors_path(out))
    _warn_small(settings.judge)
    if as_json:
        _print_json({"judge": settings.judge, "battles": str(out), "failed": failed, "duplicates": duplicates,
                     **({"store": str(store), "added_to_store": added} if store is not None else {}), "pairs": pairs,
                     **({"calibration": {"line": cal_line, "warning": cal_warn}} if cal_line else {})})
        if cal_warn:
            typer.echo(f"warning: {cal_warn}", err=True)
        return
    for s in pairs:
        typer.echo(_pair_line(s))
    if cal_line:
        typer.echo(cal_line)
    if cal_warn:
        typer.echo(f"warning: {cal_warn}", err=True)
    typer.echo(f"{len(battles)} battles in {out}" + (f"; {added} new in {store}" if store is not None else ""))
    if failed:
        typer.echo(f"{failed} comparisons failed, with reasons: {errors_path(out)}", err=True)
    if duplicates:
        typer.echo(f"{duplicates} prediction records repeat an earlier id and were not judged: "
                   f"{errors_path(out)}", err=True)


def _stem(p: Path) -> str:
    from bimo.evaluate.predictions import model_name

    return model_name(p)


def _count_failures(path: Path) -> tuple[int, int]:
    """(failed items, repeated input ids) listed in an errors file."""
    if not path.exists():
        return 0, 0
    from bimo.io import iter_jsonl

    kinds = [r.get("kind") for r in iter_jsonl(path, [])]
    return sum(k != "duplicate" for k in kinds), kinds.count("duplicate")


def _pair_line(s: dict[str, Any]) -> str:
    if not s["n"]:
        return f"{s['model_a']} vs {s['model_b']}: no battles"
    lc = ""
    if s["lc_win_rate"] is not None:
        lc = f"  LC {s['lc_win_rate']:.1%}"
        if s.get("lc_ci"):
            lc += f" [{s['lc_ci'][0]:.1%}, {s['lc_ci'][1]:.1%}]"
    from bimo.evaluate.winrate import verdict_text

    return (f"{s['model_a']} vs {s['model_b']}: win rate {s['win_rate']:.1%} [{s['ci'][0]:.1%}, {s['ci'][1]:.1%}]"
            f"{lc}  ({s['wins']}W {s['ties']}T {s['losses']}L)  {verdict_text(s)}")


@app.command()
def ratings(source: Annotated[Path, typer.Argument(help="battles JSONL or SQLite store")],
            baseline: Annotated[str | None, typer.Option("--baseline", help="model anchored at 1000 (default: most battles)")] = None,
            rounds: Annotated[int, typer.Option("--rounds", help="bootstrap rounds for the 95% intervals")] = ROUNDS,
            seed: Annotated[int, typer.Option("--seed", help="bootstrap seed")] = 0,
            as_json: JsonOpt = False) -> None:
    """Bradley-Terry ratings (Elo scale, baseline = 1000) with bootstrap 95% intervals."""
    from bimo.evaluate.battles import load_battles
    from bimo.evaluate.ratings import compute_ratings

    res = compute_ratings(load_battles(source), baseline=baseline, rounds=rounds, seed=seed)
    if as_json:
        _print_json(res)
        return
    typer.echo(f"{res['n_battles']} battles, baseline {res['baseline']} = 1000, {rounds} bootstrap rounds")
    width = max(len(r["model"]) for r in res["ratings"])
    for k, r in enumerate(res["ratings"], 1):
        wr = f"{r['win_rate']:.1%}" if r["win_rate"] is not None else "-"
        typer.echo(f"{k:>3}. {r['model']:<{width}}  {r['rating']:7.1f}  [{r['lower']:7.1f}, {r['upper']:7.1f}]"
                   f"  battles {r['battles']:<6} win rate {wr}")


store_app = typer.Typer(help="Battle store (SQLite): import battles from JSONL, export them back.",
                        no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("import")
def store_import(files: Annotated[list[Path], typer.Argument(help="battles JSONL file(s): model_a, model_b, winner, ...")],
                 db: Annotated[Path, typer.Option("--db", "--store", help="SQLite store (created if missing)")],
                 as_json: JsonOpt = False) -> None:
    """Add battles to a store, skipping those already there (same battle id).

    Every file is checked before anything is written: one bad line and nothing is added.
    """
    from bimo.evaluate.battles import read_battles_jsonl
    from bimo.evaluate.store import BattleStore

    battles = [b for f in files for b in read_battles_jsonl(f)]
    st = BattleStore(db)
    added, skipped = st.import_battles(battles)
    res = {"store": str(db), "read": len(battles), "added": added, "skipped": skipped, "total": st.count()}
    if as_json:
        _print_json(res)
        return
    typer.echo(f"added {added} battles to {db}, skipped {skipped} already there; {res['total']} in the store")


@store_app.command("export")
def store_export(db: Annotated[Path, typer.Argument(help="SQLite battle store")],
                 out: Annotated[Path, typer.Option("--out", "-o", help="battles JSONL to write (replaced atomically)")],
                 as_json: JsonOpt = False) -> None:
    """Write every battle of a store, ids included, to a JSONL file."""
    from bimo.evaluate.store import BattleStore

    _need_file(db)
    if db.is_dir():
        raise BimoError(f"expected a file, got a folder: {db}")
    n = BattleStore(db).export_jsonl(out)
    if as_json:
        _print_json({"store": str(db), "out": str(out), "battles": n})
        return
    typer.echo(f"wrote {n} battles to {out}")


@app.command()
def agreement(preds: Annotated[list[Path], typer.Argument(help="one predictions file (pointwise) or two (pairwise)")],
              judge_uri: JudgeOpt = None,
              rubric: Annotated[str, typer.Option("--rubric", "-r", help="rubric for the pointwise check")] = "writebench",
              n: Annotated[int, typer.Option("-n", help="items to judge")] = AGREEMENT_ITEMS,
              out: Annotated[Path | None, typer.Option("--out", "-o", help="write the result as JSON (e.g. RUN_DIR/agreement.json)")] = None,
              temperature: TempOpt = None, seed: SeedOpt = None, max_tokens: MaxTokOpt = None) -> None:
    """Judge self-consistency: same items judged twice, and pairs in both orders."""
    from bimo.evaluate.agreement import pairwise_agreement, pointwise_agreement
    from bimo.evaluate.predictions import load_predictions
    from bimo.evaluate.rubric import load_rubric

    if len(preds) not in (1, 2):
        raise BimoError("agreement takes one predictions file (pointwise) or two (pairwise)")
    for p in preds:
        load_predictions(p)
    load_rubric(rubric)
    settings = _settings(judge_uri, temperature=temperature, seed=seed, max_tokens=max_tokens)
    be = _backend(settings.judge)
    try:
        res = (pairwise_agreement(be, preds[0], preds[1], settings, n=n) if len(preds) == 2
               else pointwise_agreement(be, preds[0], rubric, settings, n=n))
    finally:
        be.close()
    if out is not None:
        from bimo.io import atomic_write_text

        atomic_write_text(out, json.dumps(res, ensure_ascii=False, indent=2))
    _print_json(res)
    _warn_small(settings.judge)


CalJudgeOpt = Annotated[list[str] | None, typer.Option("--judge", "-j", help="judge backend URI; repeat to calibrate several judges side by side")]
PairRubricOpt = Annotated[str, typer.Option("--rubric", help="pairwise rubric: pairwise | pairwise-criteria (criteria first) | pairwise-forced (no ties) | pairwise-logprob (verdict from the letter's probability in both orders)")]
JudgeSeedOpt = Annotated[int | None, typer.Option("--judge-seed", help="judge seed (recorded)")]
MixedOpt = Annotated[bool, typer.Option("--allow-mixed-settings", help="resume into verdicts made with other judge settings")]


def _judges(judge_uris: list[str] | None, rubric: str, options: dict[str, Any]) -> list[Any]:
    """Every judge's settings from the options as given (temperature, judge_seed, retries,
    max_tokens, samples, one_order, rubric_type), checked before anything is built or loaded."""
    uris = judge_uris or [None]
    if len(set(uris)) != len(uris):
        raise BimoError("each --judge may be given once")
    o = dict(options)
    return [_pair_settings(u, rubric, o["samples"], o["one_order"], o["rubric_type"], temperature=o["temperature"],
                           seed=o["judge_seed"], retries=o["retries"], max_tokens=o["max_tokens"]) for u in uris]


def _calibrate_run(pairs_path: Path, settings: list[Any], out: Path, rubric: str, allow_mixed: bool, quiet: bool,
                   pairs: tuple | None = None, sample: int | None = None, seed: int = 0,
                   kind: str = "calibration") -> dict[str, Any]:
    """Shared by calibrate and probe: load every judge, judge, close; returns the summary."""
    from bimo.evaluate.calibrate import calibrate

    backends: list[Any] = []
    try:
        for s in settings:
            backends.append(_backend(s.judge))
        return calibrate(pairs_path, list(zip(settings, backends, strict=True)), out, rubric=rubric, sample=sample,
                         seed=seed, allow_mixed=allow_mixed, progress=not quiet, pairs=pairs, kind=kind)
    finally:
        for be in backends:
            be.close()


def _calibrate_print(summary: dict[str, Any], out: Path, as_json: bool) -> None:
    from bimo.evaluate.calibrate import FLIP_WARN, judge_line

    if as_json:
        _print_json(summary)
    else:
        for res in summary["judges"]:
            typer.echo(judge_line(res, summary["baselines"]))
        typer.echo(f"summary: {out / (summary['kind'] + '.json')}")
    if summary["skipped"]:
        first = summary["skipped_pairs"][0]
        typer.echo(f"{summary['skipped']} pairs skipped, with reasons in the summary (first: line {first['line']}: "
                   f"{first['reason']})", err=True)
    for res in summary["judges"]:
        if res.get("position_flips") is not None and res["position_flips"] > FLIP_WARN:
            typer.echo(f"warning: {res['judge']} changes its verdict when the order is swapped in "
                       f"{res['position_flips']:.0%} of pairs (over {FLIP_WARN:.0%})", err=True)
        if res["failed"]:
            from bimo.io import errors_path

            typer.echo(f"{res['judge']}: {res['failed']} pairs failed, with reasons in "
                       f"{errors_path(Path(res['verdicts']))}", err=True)
        _warn_small(res["judge"])


@app.command()
def calibrate(pairs: Annotated[Path, typer.Argument(help="labelled pairs JSONL: prompt + chosen/rejected, or a/b + winner (a|b|tie); optional category, lang, gap")],
              judge_uri: CalJudgeOpt = None,
              out: Annotated[Path, typer.Option("--out", "-o", help="folder for verdicts and calibration.json (resumable)")] = Path("calibration"),
              rubric: PairRubricOpt = "pairwise",
              sample: Annotated[int | None, typer.Option("--sample", min=1, help="judge a random sample of N pairs")] = None,
              seed: Annotated[int, typer.Option("--seed", help="seed of the sample, the bootstrap and the coin baseline")] = 0,
              judge_seed: JudgeSeedOpt = None, temperature: TempOpt = None, retries: RetriesOpt = None,
              max_tokens: MaxTokOpt = None, samples: SamplesOpt = None, one_order: OneOrderOpt = False,
              rubric_type: RubricTypeOpt = None, allow_mixed: MixedOpt = False, as_json: JsonOpt = False,
              quiet: QuietOpt = False) -> None:
    """How far a pairwise judge agrees with human labels, its position and length bias, next to trivial baselines."""
    options = dict(temperature=temperature, judge_seed=judge_seed, retries=retries, max_tokens=max_tokens,
                   samples=samples, one_order=one_order, rubric_type=rubric_type)
    summary = _calibrate_run(pairs, _judges(judge_uri, rubric, options), out, rubric, allow_mixed, quiet,
                             sample=sample, seed=seed)
    _calibrate_print(summary, out, as_json)


@app.command()
def probe(texts: Annotated[Path, typer.Argument(help="good human texts JSONL: text (or response); optional prompt, id, lang")],
          judge_uri: CalJudgeOpt = None,
          out: Annotated[Path, typer.Option("--out", "-o", help="folder for probe pairs, verdicts and probe.json (resumable)")] = Path("probe"),
          probes: Annotated[str, typer.Option("--probes", help="comma-separated: padding, shuffle, repeat, cliche")] = "padding,shuffle,repeat,cliche",
          negatives: Annotated[Path | None, typer.Option("--negatives", help="`bimo synth constitution` output: original vs minimal-edit negative")] = None,
          rubric: PairRubricOpt = "pairwise",
          seed: Annotated[int, typer.Option("--seed", help="seed of the perturbations and the bootstrap")] = 0,
          judge_seed: JudgeSeedOpt = None, temperature: TempOpt = None, retries: RetriesOpt = None,
          max_tokens: MaxTokOpt = None, samples: SamplesOpt = None, one_order: OneOrderOpt = False,
          rubric_type: RubricTypeOpt = None, allow_mixed: MixedOpt = False, as_json: JsonOpt = False,
          quiet: QuietOpt = False) -> None:
    """Judge accuracy on pairs with a known better side: each text vs a padded, shuffled,
    repeated or cliche-laden copy of itself (and constitutional negatives), in both orders."""
    from bimo.evaluate.probe import build_pairs, normalize_probe_pairs, probe_line
    from bimo.io import atomic_write_jsonl

    _need_file(texts)
    if negatives is not None:
        _need_file(negatives)
    settings = _judges(judge_uri, rubric, dict(temperature=temperature, judge_seed=judge_seed, retries=retries,
                                               max_tokens=max_tokens, samples=samples, one_order=one_order,
                                               rubric_type=rubric_type))
    names = tuple(p.strip() for p in probes.split(",") if p.strip())
    raw, skipped = build_pairs(texts, names, seed=seed, negatives=negatives)
    pairs = normalize_probe_pairs(raw, skipped)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_jsonl(out / "probe_pairs.jsonl", raw)
    summary = _calibrate_run(out / "probe_pairs.jsonl", settings, out, rubric, allow_mixed, quiet, pairs=pairs,
                             seed=seed, kind="probe")
    if not as_json:
        for res in summary["judges"]:
            typer.echo(probe_line(res))
    _calibrate_print(summary, out, as_json)


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="folder with battles, judgments, predictions, agreement.json")],
           out: Annotated[Path | None, typer.Option("--out", "-o", help="output folder (default: RUN_DIR/report)")] = None,
           baseline: Annotated[str | None, typer.Option("--baseline", help="ratings anchor")] = None,
           rounds: Annotated[int, typer.Option("--rounds", help="bootstrap rounds")] = ROUNDS) -> None:
    """Self-contained HTML report with PNG charts (ratings, win rates, scores, S_l, examples)."""
    from bimo.evaluate.report import build_report

    if not run_dir.is_dir():
        raise BimoError(f"not a folder: {run_dir}")
    path = build_report(run_dir, out or run_dir / "report", baseline=baseline, rounds=rounds)
    typer.echo(f"report: {path}")


def _warn_small(judge_uri: str) -> None:
    from bimo.evaluate.report import small_judge_warning

    msg = small_judge_warning(judge_uri)
    if msg:
        typer.echo(f"warning: {msg}", err=True)


def main() -> None:
    """Standalone entry (`python -m bimo.evaluate.cli`) with the same one-line errors as `bimo`."""
    from bimo.cliutil import run_app

    run_app(app)


if __name__ == "__main__":
    main()
