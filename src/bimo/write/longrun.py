"""`bimo write` for requests with a length: run folders, plans, resume, output."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

from bimo import paths
from bimo.errors import BimoError
from bimo.io import atomic_write_text
from bimo.llm import get_backend
from bimo.text import detect_lang
from bimo.write.lengthreq import check_length, detect_length
from bimo.write.longform import LongformConfig, LongformWriter
from bimo.write.plan import load_plan
from bimo.write.runstate import load_state


def longform_for(req, text: str):
    """`run_longform` when the request asks for a length (or a plan / resume), else None."""
    asked = req.resume is not None or req.plan is not None or req.length is not None
    return run_longform if asked or (text.strip() and detect_length(text) is not None) else None


def new_run_dir() -> Path:
    return paths.home() / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def resume_model(run_dir: Path, recorded: str | None, asked: str | None) -> str:
    """The model a resumed run continues with: the one it started with, never another."""
    if recorded is None:
        if not asked:
            raise BimoError(f"{run_dir} does not record the model it was started with (older bimo); "
                            "pass --model with that model to resume it")
        return asked
    if asked and asked.strip() != recorded:
        raise BimoError(f"{run_dir} was started with {recorded}, not {asked.strip()}; resume without --model "
                        "(or with that one), or start a new run")
    return recorded


def run_longform(req, text: str) -> None:
    model = req.model
    if req.resume is not None:
        state = load_state(req.resume)
        config, instruction, run_dir = state.config, state.instruction, Path(req.resume)
        model = resume_model(run_dir, state.model, req.model)
        plan = load_plan(req.plan) if req.plan is not None else None
        sys.stderr.write(f"resuming with {model}: temperature {config.temperature}, top_p {config.top_p}, "
                         f"seed {config.seed}, length {config.length}, parallel {config.parallel} "
                         "(as recorded; other settings given now are not used)\n")
    else:
        if not text.strip():
            raise BimoError("empty input: long-form writing needs an instruction")
        if req.length is not None:
            check_length(req.length)  # a length given is used as given, never replaced by one the text states
        plan = load_plan(req.plan) if req.plan is not None else None
        # made before the backend: its slots follow `parallel`, and a bad length is reported before a model loads
        config = LongformConfig.for_prompt(text, req.length, default=sum(s.length for s in plan.sections) if plan else None,
                                           lang=req.lang, parallel=req.parallel, temperature=req.temperature,
                                           top_p=req.top_p, seed=req.seed)
        instruction, run_dir = text.strip(), new_run_dir()
    backend = get_backend(model, threads=req.threads,
                          parallel=max(4, config.parallel) if config.parallel > 1 else None)
    try:
        writer = LongformWriter(backend, config)
        if req.show_plan:
            lang = config.lang or detect_lang(instruction)
            plan = plan or writer.make_plan(instruction, lang if lang in ("zh", "en") else "zh")
            out = plan.model_dump_json(indent=2)
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / "plan.json", out + "\n")
            sys.stdout.write(out + "\n")
            sys.stderr.write(f"plan saved to {run_dir / 'plan.json'}; edit it and pass --plan to write from it\n")
            return
        sys.stderr.write(f"run folder: {run_dir}  (resume with: bimo write --resume {run_dir})\n")

        def on_event(event: dict) -> None:
            if req.out is None and event["type"] == "section" and config.parallel == 1:
                heading = event.get("heading")
                body = event["text"] if not heading else f"## {heading}\n\n{event['text']}"
                sys.stdout.write(body + "\n\n")
                sys.stdout.flush()

        result = writer.run(instruction, run_dir=run_dir, on_event=on_event, plan=plan, progress=True)
        if req.out is not None:
            atomic_write_text(req.out, result.text + "\n")
        elif config.parallel > 1:
            sys.stdout.write(result.text + "\n")
        sys.stderr.write(f"length {result.length} / required {config.length} "
                         f"({result.length / config.length:.0%}); {result.tokens} tokens in {result.seconds:.0f} s\n")
    finally:
        backend.close()
