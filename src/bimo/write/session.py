"""What `bimo write` does: gather the input, pick the task, stream the answer.

A single answer streams straight to stdout (or lands atomically in `--out`). Requests
that ask for a length go to the long-form engine (plan, then write section by section).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from bimo.errors import BimoError
from bimo.io import atomic_write_text, read_text
from bimo.llm import GenParams, get_backend
from bimo.write.tasks import TaskOptions, build_messages, load_task


class WriteRequest(BaseModel):
    text: str | None = None
    task: str = "write"
    model: str | None = None
    input_file: Path | None = None
    out: Path | None = None
    lang: str | None = None
    instruction: str = ""
    style: str = ""
    sample: Path | None = None
    to: str = ""
    length: int | None = None
    plan: Path | None = None
    resume: Path | None = None
    parallel: int = 1
    show_plan: bool = False
    single_pass: bool = False
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int | None = None
    seed: int | None = None
    threads: int | None = None
    timeout: float | None = None


def read_input(text: str | None, input_file: Path | None) -> str:
    """The user's text from the argument, a file, or stdin (in that order)."""
    if input_file is not None:
        if text not in (None, "-"):
            raise BimoError("give the text either as an argument or with --input, not both")
        return read_text(input_file)
    if text is not None and text != "-":
        return text
    if sys.stdin is None or sys.stdin.isatty():
        return ""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BimoError(f"standard input is not valid UTF-8 (byte {exc.start})") from None


def _params(req: WriteRequest, default_max: int = 2048) -> GenParams:
    try:
        return GenParams(temperature=req.temperature, top_p=req.top_p, seed=req.seed,
                         max_tokens=req.max_tokens or default_max, timeout=req.timeout)
    except ValueError as exc:
        raise BimoError(f"bad generation settings: {str(exc).splitlines()[1:2] or exc}") from None


def run_write(req: WriteRequest) -> None:
    load_task(req.task)  # unknown task → one-line error before anything is loaded
    text = read_input(req.text, req.input_file)
    options = TaskOptions(instruction=req.instruction, style=req.style, target=req.to,
                          sample=read_text(req.sample) if req.sample else "")
    if req.task == "chat" and not text.strip() and sys.stdin is not None and sys.stdin.isatty():
        return _chat_repl(req, options)
    if req.single_pass and (req.plan or req.resume or req.show_plan or req.parallel > 1):
        raise BimoError("--single-pass answers in one call: it does not take --plan, --resume, --show-plan or --parallel")
    longform = None if req.single_pass else _longform_requested(req, text)
    if longform is not None:
        return longform(req, text)
    messages = build_messages(req.task, text, req.lang, options)  # empty input → error before loading
    backend = get_backend(req.model, threads=req.threads)
    try:
        _answer(backend, messages, _params(req, single_pass_tokens(backend) if req.single_pass else 2048), req.out)
    finally:
        backend.close()


def single_pass_tokens(backend) -> int:
    """Room for a long answer in one call: the model's context less a margin for the prompt
    (8,192 tokens when the backend does not say its context)."""
    n_ctx = getattr(backend, "n_ctx", None)
    return max(1024, int(n_ctx) - 1024) if n_ctx else 8192


def _longform_requested(req: WriteRequest, text: str):
    """The long-form entry point when the request asks for a length, else None."""
    if req.task != "write":
        if req.length or req.plan or req.resume:
            raise BimoError("--length, --plan and --resume apply to --task write only")
        return None
    from bimo.write.longrun import longform_for

    return longform_for(req, text)


def _answer(backend, messages: list[dict], params: GenParams, out: Path | None) -> str:
    stream = backend.stream(messages, params)
    parts: list[str] = []
    with stream:
        for delta in stream:
            parts.append(delta)
            if out is None:
                sys.stdout.write(delta)
                sys.stdout.flush()
    text = "".join(parts)
    if out is None:
        if not text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
    else:
        atomic_write_text(out, text if text.endswith("\n") else text + "\n")
        sys.stderr.write(f"wrote {out} ({len(text)} characters)\n")
    return text


def _chat_repl(req: WriteRequest, options: TaskOptions) -> None:
    """Interactive writing chat on a terminal; history is kept for the session."""
    backend = get_backend(req.model, threads=req.threads)
    history: list[dict] = []
    sys.stderr.write("笔墨 writing chat — empty line or Ctrl-D to quit\n")
    try:
        while True:
            try:
                line = input("> ")
            except EOFError:
                break
            if not line.strip():
                break
            opts = TaskOptions(**{**options.__dict__, "history": history})
            messages = build_messages("chat", line, req.lang, opts)
            answer = _answer(backend, messages, _params(req), None)
            history += [{"role": "user", "content": line}, {"role": "assistant", "content": answer}]
    finally:
        backend.close()
