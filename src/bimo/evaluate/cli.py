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

app = typer.Typer(help="Evaluate writing: length score, LLM judges, win rates, ratings, reports.",
                  no_args_is_help=True)

JudgeOpt = Annotated[str | None, typer.Option("--judge", "-j", help="judge backend URI (default: $BIMO_JUDGE or local:default, the embedded model)")]
TempOpt = Annotated[float, typer.Option("--temperature", help="judge temperature (recorded)")]
SeedOpt = Annotated[int, typer.Option("--seed", help="judge seed (recorded; retries use the next seeds)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]
MaxTokOpt = Annotated[int, typer.Option("--max-tokens", min=16, help="longest judge answer, in tokens")]


def _settings(judge: str | None, temperature: float, seed: int, retries: int = 2, max_tokens: int = 768):
    from bimo.evaluate.runner import DEFAULT_JUDGE, JudgeSettings

    return JudgeSettings(judge=judge or DEFAULT_JUDGE, temperature=temperature, seed=seed, retries=retries,
                         max_tokens=max_tokens)


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
                       f"\trepeated={r['repeated_share']:.1%}\tleaks={r['leaks']}\tending={r['ending'] or 'ok'}"
                       + (f"\tFLAGGED: {'; '.join(r['flags'])}" if r["flags"] else ""))
    typer.echo(f"S_l = {res['s_l']:.1f}, on effective length {res['s_l_eff']:.1f}, over {res['n']} records; "
               f"repeated 8-grams mean {res['repeated_share']:.1%} (max {res['max_repeated_share']:.1%}); "
               f"leaks {res['leaks']}; dangling endings {res['dangling']}; flagged {res['flagged']}")
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
          temperature: TempOpt = 0.0, seed: SeedOpt = 1,
          retries: Annotated[int, typer.Option("--retries", help="extra tries after malformed output")] = 2,
          max_tokens: MaxTokOpt = 768, as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Pointwise judging with a rubric; failures go to OUT's .errors.jsonl with the reason.

    Resumable: items already judged in OUT are skipped, earlier failures are tried again.
    """
    from bimo.evaluate.judge import judge_file
    from bimo.evaluate.rubric import load_rubric
    from bimo.evaluate.runner import load_predictions, model_name

    load_rubric(rubric)
    load_predictions(pred)  # fail on bad input before loading a model
    settings = _settings(judge_uri, temperature, seed, retries, max_tokens)
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
            rounds: Annotated[int, typer.Option("--rounds", help="bootstrap rounds")] = 1000,
            temperature: TempOpt = 0.0, seed: SeedOpt = 1,
            retries: Annotated[int, typer.Option("--retries", help="extra tries after malformed output")] = 2,
            max_tokens: MaxTokOpt = 768, as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Side-by-side judging in both orders; prints win rates with 95% intervals, and the
    length-controlled win rate with its 95% interval."""
    from bimo.evaluate.pairwise import compare_files
    from bimo.evaluate.runner import load_predictions
    from bimo.evaluate.winrate import pair_summary
    from bimo.io import errors_path

    if len(preds) < 2:
        raise BimoError("compare needs at least two prediction files")
    for p in preds:
        load_predictions(p)
    name_list = [n.strip() for n in names.split(",")] if names else None
    settings = _settings(judge_uri, temperature, seed, retries, max_tokens)
    st = None
    if store is not None:  # opened first: a bad store fails before any judging
        from bimo.evaluate.store import BattleStore

        st = BattleStore(store)
    be = _backend(settings.judge)
    try:
        battles = compare_files(preds, be, out, settings, names=name_list, limit=limit, progress=not quiet)
    finally:
        be.close()
    added = st.import_battles(battles)[0] if st is not None else None
    models = name_list or [_stem(p) for p in preds]
    pairs = [pair_summary(battles, a, b, rounds=rounds) for i, a in enumerate(models) for b in models[i + 1:]]
    failed = _count_lines(errors_path(out))
    _warn_small(settings.judge)
    if as_json:
        _print_json({"judge": settings.judge, "battles": str(out), "failed": failed,
                     **({"store": str(store), "added_to_store": added} if store is not None else {}), "pairs": pairs})
        return
    for s in pairs:
        typer.echo(_pair_line(s))
    typer.echo(f"{len(battles)} battles in {out}" + (f"; {added} new in {store}" if store is not None else ""))
    if failed:
        typer.echo(f"{failed} comparisons failed, with reasons: {errors_path(out)}", err=True)


def _stem(p: Path) -> str:
    from bimo.evaluate.runner import model_name

    return model_name(p)


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    from bimo.io import iter_jsonl

    return sum(1 for _ in iter_jsonl(path, []))


def _pair_line(s: dict[str, Any]) -> str:
    if not s["n"]:
        return f"{s['model_a']} vs {s['model_b']}: no battles"
    lc = ""
    if s["lc_win_rate"] is not None:
        lc = f"  LC {s['lc_win_rate']:.1%}"
        if s.get("lc_ci"):
            lc += f" [{s['lc_ci'][0]:.1%}, {s['lc_ci'][1]:.1%}]"
    return (f"{s['model_a']} vs {s['model_b']}: win rate {s['win_rate']:.1%} [{s['ci'][0]:.1%}, {s['ci'][1]:.1%}]"
            f"{lc}  ({s['wins']}W {s['ties']}T {s['losses']}L)  {s['band']}")


@app.command()
def ratings(source: Annotated[Path, typer.Argument(help="battles JSONL or SQLite store")],
            baseline: Annotated[str | None, typer.Option("--baseline", help="model anchored at 1000 (default: most battles)")] = None,
            rounds: Annotated[int, typer.Option("--rounds", help="bootstrap rounds for the 95% intervals")] = 1000,
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

    if not db.exists():
        raise BimoError(f"file not found: {db}")
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
              n: Annotated[int, typer.Option("-n", help="items to judge")] = 20,
              out: Annotated[Path | None, typer.Option("--out", "-o", help="write the result as JSON (e.g. RUN_DIR/agreement.json)")] = None,
              temperature: TempOpt = 0.0, seed: SeedOpt = 1, max_tokens: MaxTokOpt = 768) -> None:
    """Judge self-consistency: same items judged twice, and pairs in both orders."""
    from bimo.evaluate.agreement import pairwise_agreement, pointwise_agreement
    from bimo.evaluate.rubric import load_rubric
    from bimo.evaluate.runner import load_predictions

    if len(preds) not in (1, 2):
        raise BimoError("agreement takes one predictions file (pointwise) or two (pairwise)")
    for p in preds:
        load_predictions(p)
    load_rubric(rubric)
    settings = _settings(judge_uri, temperature, seed, max_tokens=max_tokens)
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


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="folder with battles, judgments, predictions, agreement.json")],
           out: Annotated[Path | None, typer.Option("--out", "-o", help="output folder (default: RUN_DIR/report)")] = None,
           baseline: Annotated[str | None, typer.Option("--baseline", help="ratings anchor")] = None,
           rounds: Annotated[int, typer.Option("--rounds", help="bootstrap rounds")] = 1000) -> None:
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
    from bimo.cli import run_app

    run_app(app)


if __name__ == "__main__":
    main()
