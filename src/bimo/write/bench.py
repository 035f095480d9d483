"""Benchmark runs: every prompt through the writer, one prediction record per prompt."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bimo import paths
from bimo.errors import BimoError
from bimo.io import JsonlAppender, errors_path, iter_jsonl
from bimo.llm import GenParams, get_backend
from bimo.text import count_length
from bimo.write.lengthreq import detect_length
from bimo.write.longform import LongformConfig, LongformWriter
from bimo.write.tasks import build_messages

# Tasks that answer about a text rather than write one get the writing-partner system prompt;
# every other task gets the writer's ("give the piece itself, no commentary").
_PARTNER_TASKS = {"review", "brainstorm", "chat", "title", "outline"}


def _key(rec: dict, i: int) -> str:
    return str(rec.get("id", i))


def bench_messages(rec: dict) -> list[dict]:
    """The chat turn for one benchmark record: its instruction, then its source text
    (`input`, for tasks such as polish or title that work on a given text)."""
    text = rec["prompt"].strip()
    if isinstance(rec.get("input"), str) and rec["input"].strip():
        text += "\n\n" + rec["input"].strip()
    template = "chat" if rec.get("task") in _PARTNER_TASKS else "write"
    return build_messages(template, text, lang=rec.get("lang") if rec.get("lang") in ("zh", "en") else None)


def run_bench(prompts: Path, out: Path, *, model: str | None = None, limit: int | None = None,
              parallel: int = 1, seed: int = 1, max_tokens: int = 2048) -> tuple[int, int, int]:
    records = list(iter_jsonl(prompts))
    if not records:
        raise BimoError(f"{prompts} has no records")
    for i, rec in enumerate(records):
        if not isinstance(rec.get("prompt"), str) or not rec["prompt"].strip():
            raise BimoError(f"{prompts}: record {i + 1} has no 'prompt'")
    records = records[:limit] if limit else records
    out = Path(out)
    err_path = errors_path(out)
    seen = {_key(r, -1) for r in iter_jsonl(out)} if out.exists() else set()
    backend = get_backend(model, parallel=max(4, parallel))
    done = failed = skipped = 0
    from tqdm import tqdm

    try:
        with JsonlAppender(out) as sink, JsonlAppender(err_path) as errs:
            for i, rec in enumerate(tqdm(records, desc="bench", unit="prompt", file=sys.stderr)):
                key = _key(rec, i)
                if key in seen:
                    skipped += 1
                    continue
                t0 = time.perf_counter()
                try:
                    required = rec.get("length") or detect_length(rec["prompt"])
                    if required:
                        cfg = LongformConfig(length=int(required), parallel=parallel, seed=seed)
                        run_dir = paths.home() / "runs" / "bench" / f"{out.stem}-{key}"
                        result = LongformWriter(backend, cfg).run(rec["prompt"], run_dir=run_dir)
                        text, tokens = result.text, result.tokens
                    else:
                        comp = backend.chat(bench_messages(rec), GenParams(seed=seed, max_tokens=max_tokens))
                        text, tokens = comp.text, comp.completion_tokens
                except BimoError as exc:
                    errs.write({"id": key, "prompt": rec["prompt"], "error": str(exc)})
                    failed += 1
                    continue
                sink.write({**rec, "id": key, "response": text, "length": required,
                            "output_length": count_length(text), "model": backend.uri,
                            "seconds": round(time.perf_counter() - t0, 2), "tokens": tokens})
                done += 1
    finally:
        backend.close()
    return done, failed, skipped
