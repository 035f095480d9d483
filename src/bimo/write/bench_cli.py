"""`bimo bench run`: run `bimo write` over a prompt file so any model can be scored.

Each input record has `prompt`, optional `length` (else detected from the prompt),
`task` and `input` (the source text for tasks that work on one: it follows the
instruction in the same turn). Output records carry `prompt`, `response`, `length` (required), the produced
length and timing — ready for `bimo eval length` and `bimo eval judge`. Prompts are
answered concurrently on the model's slots. Resumable: records already in the output (by
id) are skipped and failed ones tried again; failures go to OUT.errors.jsonl. A second
run on the same output with another model or settings is refused (one line naming them).
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Run a model over a benchmark prompt file.", no_args_is_help=True)


@app.command("run")
def run(
    prompts: Path = typer.Argument(..., help="JSONL with prompt, optional length, task and input."),
    model: str = typer.Option(None, "--model", "-m", help="Model URI (default: $BIMO_MODEL or local:default)."),
    out: Path = typer.Option(..., "--out", "-o", help="Predictions JSONL (appended, resumable)."),
    limit: int = typer.Option(None, "--limit", help="Only the first N prompts."),
    parallel: int = typer.Option(1, "--parallel", help="Long-form sections written concurrently."),
    seed: int = typer.Option(1, "--seed", help="Seed (outputs are cached and reproducible)."),
    max_tokens: int = typer.Option(2048, "--max-tokens", min=16, help="Longest answer to a short-form prompt."),
    concurrency: int = typer.Option(None, "--concurrency", min=1, help="Prompts answered at once (default: the model's slots)."),
    single_pass: bool = typer.Option(False, "--single-pass", help="Prompts with a length get one call too "
                                     "(up to --max-tokens), not the plan-and-write writer."),
) -> None:
    """Write an answer for every prompt; resume by running the same command again."""
    from bimo.write.bench import run_bench

    done, failed, skipped = run_bench(prompts, out, model=model, limit=limit, parallel=parallel, seed=seed,
                                     max_tokens=max_tokens, concurrency=concurrency, single_pass=single_pass)
    typer.echo(f"{done} written, {skipped} already done, {failed} failed → {out}", err=True)
