"""Judging on the shared step runner: judge settings, strict judge calls, predictions.

Judge runs use `bimo.runner` like every synthesis stage: bounded concurrency,
resumable output, failures in the `.errors.jsonl` twin with their reasons, and a
progress bar. What is particular to judging lives here:

* `JudgeSettings`: judge URI, temperature, seed and retries, recorded with every verdict;
* `JudgeStep.ask`: one strict call. The output must parse against the schema; a
  malformed answer (or a backend failure) is a `Reject`, so the runner retries the
  record with the next seed (the same seed would replay the cached answer), and
  after the last try records it as failed with the reason and the raw answer in
  `detail`. A verdict is never filled in by default;
* `judge_run_config`: judge runs always resume (an output file accumulates), and
  items that failed before are tried again on the next run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from bimo.errors import BackendError, BimoError
from bimo.evaluate.rubric import JudgeParseError
from bimo.llm.base import GenParams
from bimo.runner import Reject, RunConfig, Step

T = TypeVar("T")

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


def judge_run_config(settings: JudgeSettings, progress: bool = False) -> RunConfig:
    """Runner settings for a judge run: resume, retry earlier failures, `settings.retries` extra tries."""
    return RunConfig(resume=True, retry_failed=True, retries=settings.retries, progress=progress)


class JudgeStep(Step):
    """A runner step that calls the judge. Subclasses write `process(record, attempt)`
    with one or more `ask` calls; attempt n uses seed `settings.seed + n`."""

    name = "judge"

    def __init__(self, backend: Any, settings: JudgeSettings, *, cache: bool | None = None, seed_offset: int = 0):
        super().__init__(backend, GenParams(temperature=settings.temperature, max_tokens=settings.max_tokens,
                                            seed=settings.seed))
        self.settings = settings
        self.cache = cache
        self.seed_offset = seed_offset

    def ask(self, messages: list[dict[str, str]], schema: dict[str, Any], parse: Callable[[str], T], attempt: int,
            *, cache: bool | None = None, seed_offset: int | None = None) -> tuple[T, int]:
        """(parsed verdict, seed used), or Reject with the reason and the raw answer."""
        s = self.settings
        seed = s.seed + (self.seed_offset if seed_offset is None else seed_offset) + attempt
        try:
            comp = self.backend.chat(messages, temperature=s.temperature, seed=seed, max_tokens=s.max_tokens,
                                     json_schema=schema, cache=self.cache if cache is None else cache)
        except BackendError as exc:  # after the backend's own retries; the next seed may still pass
            raise Reject(f"backend error: {exc}") from None
        raw = comp.text
        try:
            return parse(raw), seed
        except JudgeParseError as exc:
            reason = str(exc)
            if getattr(comp, "finish_reason", "stop") == "length":
                reason += " (output cut at max_tokens)"
            raise Reject(reason, detail=raw[:2000]) from None

    def binding(self) -> dict[str, Any]:
        """The judge (its backend's URI, else the configured one) and the judge settings."""
        return {**super().binding(), "model": getattr(self.backend, "uri", "") or self.settings.judge}

    def context(self) -> dict[str, Any]:
        """Who judged, recorded with every verdict and every failure."""
        return {"judge": self.settings.judge, "judge_temperature": self.settings.temperature}


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


def keyed_predictions(path: str | Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Prediction records by `item_key`, the first record of each key, and one row per
    later record with a key already seen (`kind: duplicate`, `reason: duplicate id of row N`),
    so a repeated id is reported rather than silently replacing or dropping a record."""
    by_key: dict[str, dict[str, Any]] = {}
    first_row: dict[str, int] = {}
    duplicates: list[dict[str, Any]] = []
    for row, rec in enumerate(load_predictions(path), 1):
        key = item_key(rec)
        if key in first_row:
            duplicates.append({"id": f"{path}:{row}", "kind": "duplicate", "key": key, "file": str(path),
                               "row": row, "reason": f"duplicate id of row {first_row[key]}", "attempts": 0})
            continue
        first_row[key] = row
        by_key[key] = rec
    return by_key, duplicates


def record_duplicates(err_path: str | Path, duplicates: list[dict[str, Any]]) -> None:
    """Append `keyed_predictions`' duplicate rows to an errors file, each (file, row) once
    however often the run is resumed."""
    from bimo.io import JsonlAppender, iter_jsonl

    err_path = Path(err_path)
    if not duplicates:
        return
    seen = {(r.get("file"), r.get("row")) for r in iter_jsonl(err_path, []) if r.get("kind") == "duplicate"} \
        if err_path.exists() else set()
    with JsonlAppender(err_path) as errs:
        for row in duplicates:
            if (row["file"], row["row"]) not in seen:
                errs.write(row)


def item_key(rec: dict[str, Any]) -> str:
    """How records of different files are matched: `id` if present, else the prompt text."""
    return str(rec["id"]) if rec.get("id") is not None else rec["prompt"]


def model_name(path: str | Path) -> str:
    """A model's name from its prediction file: 'runs/qwen-7b.jsonl' -> 'qwen-7b'."""
    name = Path(path).name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name
