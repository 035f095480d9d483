"""`bimo pipeline`: run a whole recipe (curate -> synth -> SFT -> DPO -> export -> eval), or check one.

Thin: parse, then call `bimo.pipeline.run`. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The whole system in one command: curate, synthesize, train, export and evaluate "
                       "from one recipe, resumable stage by stage.", no_args_is_help=True)

Recipe = Annotated[Path, typer.Argument(help="pipeline recipe YAML (see recipes/tiny.yaml)")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="run folder (default: the recipe's output, "
                                                                 "else runs/NAME)")]


@app.command("run")
def run(recipe: Recipe, output: Output = None,
        resume: Annotated[bool, typer.Option("--resume", help="continue the run in the folder: skip finished "
                                                             "stages, resume an interrupted one")] = False,
        stop_after: Annotated[str | None, typer.Option("--stop-after", help="stop after this stage "
                                                                          "(continue later with --resume)")] = None,
        ) -> None:
    """Run every stage of RECIPE into a run folder (one numbered sub-folder per stage, pipeline.json)."""
    from rich.console import Console

    from bimo.pipeline.recipe import load_pipeline_recipe
    from bimo.pipeline.run import default_output, run_pipeline, summary_table

    r = load_pipeline_recipe(recipe)
    out = (output or default_output(r)).expanduser().absolute()
    state = run_pipeline(r, out, resume=resume, stop_after=stop_after)
    Console(highlight=False).print(summary_table(state, r))


@app.command("check")
def check(recipe: Recipe, output: Output = None) -> None:
    """Validate RECIPE and everything it points at (inputs, models, prompts) without running anything."""
    from bimo.pipeline.checks import check_ready
    from bimo.pipeline.recipe import load_pipeline_recipe
    from bimo.pipeline.run import default_output

    r = load_pipeline_recipe(recipe)
    check_ready(r)
    out = (output or default_output(r)).expanduser().absolute()
    folders = ", ".join(f"{i:02d}-{s}" for i, s in enumerate(r.stages, 1))
    typer.echo(f"{recipe}: ok; stages {folders} -> {out}")
