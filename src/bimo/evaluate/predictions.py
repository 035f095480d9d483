"""Prediction files, the input of every judging command: loading, matching across files, duplicates."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.io import JsonlAppender, iter_jsonl, read_jsonl


def load_predictions(path: str | Path, need: Iterable[str] = ("prompt", "response")) -> list[dict[str, Any]]:
    """Prediction records, checked for the needed fields with a one-line error."""
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
