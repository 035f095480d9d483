"""Benchmark runs: every prompt through the writer, one prediction record per prompt.

A prompt with a required length (its `length`, or one stated in the prompt) goes through
the long-form writer; any other gets one call with its source text (`input`) after the
instruction. Runs on the shared generation-step runner: prompts answered concurrently on
the backend's slots, resumable (running the same command again skips finished prompts and
retries failed ones), failures in OUT.errors.jsonl with their reasons. Long-form
checkpoints live beside the output (`OUT.runs/ID/`) and are reused only when model,
prompt and settings match; the output records its model and settings (`OUT.binding.json`)
and a run asking for others is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bimo.binding import differences
from bimo.errors import BimoError
from bimo.io import iter_jsonl, twin_path
from bimo.llm import GenParams, get_backend
from bimo.llm.base import Backend
from bimo.runner import GenerationStep, Reject, RunConfig, attempt_seed, run_step
from bimo.text import count_length
from bimo.write.lengthreq import required_length
from bimo.write.longform import LongformWriter
from bimo.write.tasks import build_messages

# Tasks that answer about a text rather than write one get the writing-partner system prompt;
# every other task gets the writer's ("give the piece itself, no commentary").
_PARTNER_TASKS = {"review", "brainstorm", "chat", "title", "outline"}


def bench_messages(rec: dict) -> list[dict]:
    """The chat turn for one benchmark record: its instruction, then its source text
    (`input`, for tasks such as polish or title that work on a given text)."""
    text = rec["prompt"].strip()
    if isinstance(rec.get("input"), str) and rec["input"].strip():
        text += "\n\n" + rec["input"].strip()
    template = "chat" if rec.get("task") in _PARTNER_TASKS else "write"
    return build_messages(template, text, lang=rec.get("lang") if rec.get("lang") in ("zh", "en") else None)


class BenchStep(GenerationStep):
    """One prediction per prompt: the record, plus `response`, the required and produced
    lengths, the model, seconds and tokens."""

    name = "bench"

    def __init__(self, backend: Backend, *, seed: int, max_tokens: int, parallel: int, runs_dir: Path,
                 single_pass: bool = False):
        super().__init__(backend, GenParams(seed=seed, max_tokens=max_tokens))
        self.sections_parallel = parallel
        self.runs_dir = runs_dir
        self.single_pass = single_pass

    def binding(self) -> dict[str, Any]:
        return {**super().binding(), "parallel": self.sections_parallel, "single_pass": self.single_pass}

    def checkpoint(self, key: str, writer: LongformWriter, prompt: str) -> Path:
        """The record's long-form run folder, emptied when it was made with other settings."""
        run_dir = self.runs_dir / checkpoint_name(key)
        state_file = run_dir / "state.json"
        if state_file.exists():
            try:
                recorded = json.loads(state_file.read_text(encoding="utf-8")).get("binding")
            except ValueError:
                recorded = None
            diff = ["no recorded settings"] if recorded is None else differences(recorded, writer.binding(prompt))
            if diff:
                sys.stderr.write(f"{run_dir}: checkpoint made with other settings ({'; '.join(diff)}); "
                                 "starting it afresh\n")
                shutil.rmtree(run_dir)
        return run_dir

    def process(self, record: dict[str, Any], attempt: int) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        key = self.key(record)
        required = required_length(record["prompt"], record.get("length"))
        if required and not self.single_pass:
            writer = LongformWriter.for_prompt(self.backend, record["prompt"], required, parallel=self.sections_parallel,
                                               seed=attempt_seed(self.params.seed or 0, attempt))
            result = writer.run(record["prompt"], run_dir=self.checkpoint(key, writer, record["prompt"]))
            text, tokens = result.text, result.tokens
        else:
            comp = self.backend.chat(bench_messages(record), self.params, seed=attempt_seed(self.params.seed, attempt))
            text, tokens = comp.text, comp.completion_tokens
        if not text.strip():
            raise Reject("empty answer")
        mode = "longform" if required and not self.single_pass else "single-pass"
        return [{**record, "id": key, "response": text, "length": required, "output_length": count_length(text),
                 "model": self.backend.uri, "mode": mode, "seconds": round(time.perf_counter() - t0, 2),
                 "tokens": tokens}]


def runs_dir(out: Path) -> Path:
    """Long-form checkpoints of a prediction file: `OUT.runs/` beside it, never shared."""
    return twin_path(out, ".runs")


def checkpoint_name(key: str) -> str:
    """A folder name for a record id: the id itself when it is plain, else a safe form plus a hash."""
    safe = re.sub(r"[^\w.-]", "_", key)[:60]
    if safe == key and not key.startswith("."):
        return key
    return f"{safe.lstrip('.')}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:8]}"


def run_bench(prompts: Path, out: Path, *, model: str | None = None, limit: int | None = None,
              parallel: int = 1, seed: int = 1, max_tokens: int = 2048,
              concurrency: int | None = None, single_pass: bool = False) -> tuple[int, int, int]:
    """Answer every prompt of `prompts` into `out`; returns (written, failed, already done).
    `single_pass`: prompts with a length get one call too (up to `max_tokens`), not the writer."""
    records = list(iter_jsonl(prompts))
    if not records:
        raise BimoError(f"{prompts} has no records")
    for i, rec in enumerate(records):
        if not isinstance(rec.get("prompt"), str) or not rec["prompt"].strip():
            raise BimoError(f"{prompts}: record {i + 1} has no 'prompt'")
    records = [rec if rec.get("id") not in (None, "") else {**rec, "id": str(i)} for i, rec in enumerate(records)]
    out = Path(out)
    backend = get_backend(model, parallel=max(4, parallel))
    try:
        step = BenchStep(backend, seed=seed, max_tokens=max_tokens, parallel=parallel, runs_dir=runs_dir(out),
                         single_pass=single_pass)
        stats = run_step(step, records, out, RunConfig(resume=True, retry_failed=True, limit=limit,
                                                       concurrency=concurrency))
    finally:
        backend.close()
    return stats.ok, stats.failed, stats.skipped
