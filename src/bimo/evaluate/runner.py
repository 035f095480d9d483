"""Shared machinery for judging runs: settings, retried strict calls, predictions, parallel map.

Every judge call is strict: the output must parse against the schema. A failed
parse is retried with the next seed (the same seed would replay the cached
answer), and after the last try the item is reported as failed with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from bimo.errors import BimoError
from bimo.evaluate.rubric import JudgeParseError

T = TypeVar("T")
R = TypeVar("R")

#: Offline default: the embedded default model, so judging needs no server;
#: override with --judge or BIMO_JUDGE.
DEFAULT_JUDGE = os.environ.get("BIMO_JUDGE") or "local:default"


class JudgeSettings(BaseModel):
    """How the judge is called; recorded with every verdict."""

    judge: str = DEFAULT_JUDGE
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    seed: int = 1
    retries: int = Field(2, ge=0, description="extra tries after a malformed answer")
    max_tokens: int = Field(768, ge=16)


class JudgeFailure(Exception):
    """All tries gave malformed output."""

    def __init__(self, reason: str, raw: str, attempts: int):
        super().__init__(reason)
        self.reason, self.raw, self.attempts = reason, raw, attempts


def ask(backend: Any, msgs: list[dict[str, str]], schema: dict[str, Any], parse: Callable[[str], T],
        settings: JudgeSettings, cache: bool | None = None, seed_offset: int = 0) -> tuple[T, int, int]:
    """(parsed verdict, attempts used, seed of the accepted answer), or JudgeFailure."""
    from bimo.errors import BackendError

    reason, raw = "", ""
    for attempt in range(settings.retries + 1):
        seed = settings.seed + seed_offset + attempt
        try:
            comp = backend.chat(msgs, temperature=settings.temperature, seed=seed,
                                max_tokens=settings.max_tokens, json_schema=schema, cache=cache)
        except BackendError as exc:
            reason, raw = f"backend error: {exc}", ""
            continue
        raw = comp.text
        try:
            return parse(raw), attempt + 1, seed
        except JudgeParseError as exc:
            reason = str(exc)
            if getattr(comp, "finish_reason", "stop") == "length":
                reason += " (output cut at max_tokens)"
    raise JudgeFailure(reason, raw[:2000], settings.retries + 1)


def load_predictions(path: str | Path, need: Iterable[str] = ("prompt", "response")) -> list[dict[str, Any]]:
    """Prediction records, checked for the needed fields with a one-line error."""
    from bimo.io import read_jsonl

    recs = read_jsonl(path)
    if not recs:
        raise BimoError(f"{path}: no records")
    for i, rec in enumerate(recs, 1):
        missing = [k for k in need if not isinstance(rec.get(k), str)]
        if missing:
            raise BimoError(f"{path}: record {i} lacks text field(s) {', '.join(missing)} (need {', '.join(need)})")
    return recs


def item_key(rec: dict[str, Any]) -> str:
    """How records of different files are matched: `id` if present, else the prompt text."""
    return str(rec["id"]) if rec.get("id") is not None else rec["prompt"]


def model_name(path: str | Path) -> str:
    """A model's name from its prediction file: 'runs/qwen-7b.jsonl' -> 'qwen-7b'."""
    name = Path(path).name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def parallel_map(fn: Callable[[T], R], items: list[T], workers: int) -> Iterator[tuple[T, R | BaseException]]:
    """Yield (item, result or exception) as they finish; results are written by the caller's thread."""
    if workers <= 1:
        for it in items:
            try:
                yield it, fn(it)
            except Exception as exc:  # handed to the caller, who records it
                yield it, exc
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futs = {pool.submit(fn, it): it for it in items}
        for fut in as_completed(futs):
            exc = fut.exception()
            yield futs[fut], (exc if exc is not None else fut.result())


def backend_parallel(backend: Any) -> int:
    return max(1, int(getattr(backend, "parallel", 1) or 1))
