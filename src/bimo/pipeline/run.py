"""Run a recipe's stages in order, record each in `pipeline.json`, print progress and a summary.

Resume rules, decided for every stage before anything runs: a stage recorded as done is
skipped when its settings (and those of every stage before it) are unchanged and its folder
is still there. A stage that started but did not finish runs again with its own resume.
Once a stage runs, the stages after it cannot be skipped (their input may change): a
finished later stage then stops the run, naming the folders to remove, as does a finished
stage whose settings changed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bimo.errors import BimoError
from bimo.pipeline.context import StageContext, StageResult
from bimo.pipeline.recipe import STAGES, PipelineRecipe
from bimo.pipeline.state import RunState


def _stage_functions() -> dict[str, Callable[[StageContext], StageResult]]:
    from bimo.pipeline.backward import run_backward
    from bimo.pipeline.data import run_curate, run_synth
    from bimo.pipeline.evaluation import run_eval
    from bimo.pipeline.train_export import run_export, run_train

    return {"curate": run_curate, "synth": run_synth, "backward": run_backward, "pretrain": run_train, "sft": run_train,
            "dpo": run_train, "export": run_export, "eval": run_eval}


def default_output(recipe: PipelineRecipe) -> Path:
    """-o, else the recipe's `output`, else runs/NAME under the current folder."""
    return recipe.output or Path("runs") / recipe.name


def run_pipeline(recipe: PipelineRecipe, out: Path, *, resume: bool = False, stop_after: str | None = None,
                 console: Console | None = None) -> RunState:
    """Run (or continue) every stage of `recipe` in `out`; returns the final state."""
    from bimo.pipeline.checks import check_ready

    console = console or Console(stderr=True, highlight=False)
    if stop_after is not None and stop_after not in recipe.stages:
        raise BimoError(f"--stop-after {stop_after}: not a stage of this recipe ({', '.join(recipe.stages)})")
    check_ready(recipe)
    state = RunState.open(out, recipe.source, recipe.name, resume)
    funcs = _stage_functions()
    total = len(recipe.stages)
    for i, (name, folder, chain, skip) in enumerate(plan(recipe, state), 1):
        stage_dir = out / folder
        rec = state.stage(name)
        if skip:
            console.print(f"[dim][{i}/{total}] {name}: done before ({(rec or {}).get('summary', '')}), skipped[/dim]")
            if name == stop_after:
                break
            continue
        again = rec is not None and rec.get("status") != "done"
        console.print(f"[bold][{i}/{total}] {name}[/bold] -> {stage_dir}" + (" (resuming)" if again else ""))
        state.start(name, folder, chain)
        ctx = StageContext(recipe=recipe, state=state, name=name, dir=stage_dir, resume=again)
        t0 = time.perf_counter()
        try:
            result = funcs[name](ctx)
        except KeyboardInterrupt:
            state.fail(name, time.perf_counter() - t0, "interrupted")
            raise
        except Exception as exc:
            state.fail(name, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
            raise
        seconds = time.perf_counter() - t0
        state.finish(name, seconds, result.outputs, result.figures, result.summary)
        console.print(f"[green][{i}/{total}] {name} done[/green] in {seconds:.1f} s: {result.summary}")
        if name == stop_after:
            console.print(f"stopped after {name}; continue with --resume")
            break
    return state


def plan(recipe: PipelineRecipe, state: RunState) -> list[tuple[str, str, str, bool]]:
    """(stage, folder, settings fingerprint, skip?) for every stage, decided before anything runs."""
    out: list[tuple[str, str, str, bool]] = []
    chain, runs = "", False
    for i, name in enumerate(recipe.stages, 1):
        chain = hashlib.sha256(f"{chain}|{name}:{recipe.fingerprint(name)}".encode()).hexdigest()[:16]
        rec = state.stage(name)
        folder = (rec or {}).get("dir") or f"{i:02d}-{name}"
        done = bool(rec and rec.get("status") == "done" and (state.run_dir / folder).exists())
        if done and (runs or rec.get("fingerprint") != chain):
            _stale(recipe, state, name, state.run_dir, changed=not runs)
        runs = runs or not done
        out.append((name, folder, chain, done))
    return out


def _stale(recipe: PipelineRecipe, state: RunState, name: str, out: Path, changed: bool) -> None:
    later = recipe.stages[recipe.stages.index(name):]
    folders = [str(out / state.stage(s)["dir"]) for s in later if state.stage(s) and state.stage(s).get("dir")]
    why = "its settings (or an earlier stage's) changed" if changed else "an earlier stage runs again"
    raise BimoError(f"stage {name} finished before but {why}; remove {' '.join(folders)} to redo it, "
                    "or start a new run folder")


def summary_table(state: RunState, recipe: PipelineRecipe) -> Table:
    """Stage, status, seconds and key figures, plus the total."""
    table = Table(title=f"pipeline {recipe.name}: {state.run_dir}")
    for col, kw in (("stage", {}), ("status", {}), ("seconds", {"justify": "right"}), ("key figures", {})):
        table.add_column(col, **kw)
    total = 0.0
    for name in sorted(recipe.stages, key=STAGES.index):
        rec = state.stage(name) or {}
        secs = float(rec.get("seconds") or 0)
        total += secs
        detail = rec.get("summary") or rec.get("error") or ""
        table.add_row(f"{rec.get('dir', name)}", rec.get("status", "not run"), f"{secs:.1f}" if rec else "", detail)
    table.add_row("total", "", f"{total:.1f}", f"{total / 60:.1f} min")
    return table
