"""The eval stage: the trained model against the base model, side by side, with a report.

A slice of a prompt file (e.g. bimo-bench) is answered by both models through
`bimo.write.bench.run_bench` (on the shared runner); the judge compares every pair of
answers in both orders (`bimo.evaluate.pairwise.compare_files`), the win rate of the trained model comes with
a bootstrap interval (`bimo.evaluate.winrate.pair_summary`), and `bimo eval report`'s
HTML page is written. Every step appends to its own file and skips what is done, so an
interrupted evaluation continues where it stopped.

Stage folder: `predictions/` (prompts.jsonl, base.jsonl, NAME.jsonl and their errors),
`battles.jsonl`, `summary.json`, `report/index.html`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import atomic_write_jsonl, atomic_write_text, read_jsonl
from bimo.pipeline.context import StageContext, StageResult
from bimo.pipeline.recipe import BASELINE_NAME, EvalSection


def select_prompts(section: EvalSection) -> list[dict[str, Any]]:
    """Prompts that stand alone (no input text; no length target unless `longform`) of the asked
    tasks and languages, languages taken in turn so a small `limit` still covers each one."""
    from bimo.text import detect_lang

    assert section.prompts is not None
    by_lang: dict[str, list[dict[str, Any]]] = {lang: [] for lang in section.langs}
    for i, rec in enumerate(read_jsonl(section.prompts), 1):
        prompt = rec.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip() or rec.get("input"):
            continue
        if rec.get("length") and not section.longform:
            continue
        if section.tasks and rec.get("task") is not None and rec["task"] not in section.tasks:
            continue
        lang = rec.get("lang") or ("zh" if detect_lang(prompt) == "zh" else "en")
        if lang in by_lang:
            by_lang[lang].append({**rec, "id": str(rec.get("id", f"p{i}")), "lang": lang})
    picked: list[dict[str, Any]] = []
    queues = [list(q) for q in by_lang.values()]
    while len(picked) < section.limit and any(queues):
        for q in queues:
            if q and len(picked) < section.limit:
                picked.append(q.pop(0))
    return picked


def run_eval(ctx: StageContext) -> StageResult:
    from bimo.evaluate.judge_step import JudgeSettings
    from bimo.evaluate.pairwise import compare_files
    from bimo.evaluate.report import build_report, small_judge_warning
    from bimo.evaluate.winrate import pair_summary
    from bimo.llm import get_backend
    from bimo.write.bench import run_bench

    cfg = ctx.recipe.eval
    name = ctx.recipe.export_name
    preds = ctx.dir / "predictions"
    prompts = preds / "prompts.jsonl"
    if not prompts.exists():  # chosen once, so a resumed evaluation answers the same prompts
        atomic_write_jsonl(prompts, select_prompts(cfg))
    files = {name: preds / f"{name}.jsonl", BASELINE_NAME: preds / f"{BASELINE_NAME}.jsonl"}
    uris = {name: ctx.output("export", "uri"), BASELINE_NAME: ctx.recipe.baseline_uri}
    for model, out in files.items():
        run_bench(prompts, out, model=uris[model], seed=cfg.seed, max_tokens=cfg.max_tokens, single_pass=cfg.single_pass)
        if not out.exists() or not out.stat().st_size:
            raise BimoError(f"{uris[model]} answered none of the eval prompts; reasons in {out.parent}")

    judge = ctx.recipe.judge_uri
    settings = JudgeSettings(judge=judge, seed=cfg.seed, retries=cfg.judge_retries, max_tokens=cfg.judge_max_tokens)
    cal: dict[str, Any] = {}
    if cfg.calibration is not None:  # read before judging: a bad file fails early
        from bimo.evaluate.calibrate import calibration_figures
        from bimo.evaluate.pairjudge import judge_settings_record

        cal = calibration_figures(cfg.calibration, settings=judge_settings_record(settings, "pairwise"),
                                  allow_other=True)
    backend = get_backend(judge)
    try:
        battles = compare_files([files[name], files[BASELINE_NAME]], backend, ctx.dir / "battles.jsonl", settings,
                                names=[name, BASELINE_NAME], progress=True)
    finally:
        backend.close()
    pair = pair_summary(battles, name, BASELINE_NAME, rounds=cfg.rounds, seed=cfg.seed)
    report = build_report(ctx.dir, ctx.dir / "report", baseline=BASELINE_NAME, rounds=cfg.rounds) if battles else None
    clean = {k: [_clean(x) for x in v] if isinstance(v, list) else _clean(v) for k, v in pair.items()}
    summary = {"model": uris[name], "baseline": uris[BASELINE_NAME], "judge": judge, **clean,
               "judge_warning": small_judge_warning(judge), "judge_calibration": cal.get("line"),
               "calibration_warning": cal.get("warning")}
    atomic_write_text(ctx.dir / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    figures = {"prompts": len(read_jsonl(prompts)), "battles": pair["n"],
               **{k: clean[k] for k in ("win_rate", "ci", "lc_win_rate", "band", "verdict", "wins", "ties", "losses")}}
    outputs: dict[str, Any] = {"battles": ctx.rel(ctx.dir / "battles.jsonl"), "summary": ctx.rel(ctx.dir / "summary.json")}
    if report is not None:
        outputs["report"] = ctx.rel(Path(report))
    line = win_line(pair)
    if cal:
        figures.update(judge_agreement=cal["agreement"], judge_position_flips=cal["position_flips"])
        print(cal["line"], file=sys.stderr)
    if cal.get("warning"):
        print(f"warning: {cal['warning']}", file=sys.stderr)
        line += f"; judge flips {cal['position_flips']:.0%} of orders in calibration"
    return StageResult(outputs=outputs, figures=figures, summary=line)


def win_line(pair: dict[str, Any]) -> str:
    """'win rate 58.3% [50.0%, 75.0%] vs base (1W 5T 0L, no clear difference: about 835 more battles ...)'."""
    from bimo.evaluate.winrate import verdict_text

    if not pair["n"]:
        return "no battles (every verdict failed; see battles.errors.jsonl)"
    lo, hi = pair["ci"]
    return (f"win rate {pair['win_rate']:.1%} [{lo:.1%}, {hi:.1%}] vs {pair['model_b']} "
            f"({pair['wins']}W {pair['ties']}T {pair['losses']}L, {verdict_text(pair)})")


def _clean(value: Any) -> Any:
    """NaN (no battles) as null in JSON."""
    return None if isinstance(value, float) and value != value else value
