"""`bimo write`: argument parsing only; the work happens in bimo.write.session."""

from __future__ import annotations

from pathlib import Path

import typer


def write_command(
    text: str = typer.Argument(None, help="The brief, draft or message. '-' or omitted: read stdin."),
    task: str = typer.Option("write", "--task", "-t", help="write, outline, expand, condense, polish, style, "
                             "review, brainstorm, title, chat, continue, rewrite, translate."),
    model: str = typer.Option(None, "--model", "-m", help="Model URI (default: $BIMO_MODEL or local:default)."),
    input_file: Path = typer.Option(None, "--input", "-i", help="Read the text from a UTF-8 file."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the result to this file instead of stdout."),
    lang: str = typer.Option(None, "--lang", help="zh or en (default: follow the input)."),
    instruction: str = typer.Option("", "--instruction", "-I", help="Extra requirement for the task."),
    style: str = typer.Option("", "--style", help="Target style (task style)."),
    sample: Path = typer.Option(None, "--sample", help="A sample text to imitate (task style)."),
    to: str = typer.Option("", "--to", help="Target language (task translate): zh or en."),
    length: int = typer.Option(None, "--length", help="Required length (CJK characters + English words); "
                               "overrides what the prompt asks for."),
    plan: Path = typer.Option(None, "--plan", help="Use (edited) plan JSON for long-form writing."),
    resume: Path = typer.Option(None, "--resume", help="Resume an interrupted long-form run folder."),
    parallel: int = typer.Option(1, "--parallel", help="Long-form: write K sections concurrently."),
    show_plan: bool = typer.Option(False, "--show-plan", help="Long-form: print the plan and stop."),
    single_pass: bool = typer.Option(False, "--single-pass", help="Answer in one call, no plan and no length "
                                     "control, with room for a long answer (what LongBench-Write measures)."),
    temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Cap on generated tokens (single answers)."),
    seed: int = typer.Option(None, "--seed", help="Seed: same seed, same output (and cached)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for local models (default: all cores)."),
    timeout: float = typer.Option(None, "--timeout", help="Give up on a generation after this many seconds."),
) -> None:
    """Write with a model."""
    from bimo.write.session import WriteRequest, run_write

    run_write(WriteRequest(
        text=text, task=task, model=model, input_file=input_file, out=out, lang=lang,
        instruction=instruction, style=style, sample=sample, to=to, length=length, plan=plan,
        resume=resume, parallel=parallel, show_plan=show_plan, single_pass=single_pass, temperature=temperature, top_p=top_p,
        max_tokens=max_tokens, seed=seed, threads=threads, timeout=timeout,
    ))
