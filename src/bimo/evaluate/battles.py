"""The battle record and how battles are read from JSONL files or a store.

A battle is one comparison of two outputs for one prompt. It is the common
currency of LLM-judge comparisons and human votes: win rates and ratings are
computed from battles alone, whoever produced them.

Every battle has an id: its `id` field, else a hash of its record, so the same
battle imported twice is recognised (identical records within one file are
numbered, so they stay distinct votes).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from bimo.errors import BimoError, validation_line

Winner = Literal["model_a", "model_b", "tie"]


class Battle(BaseModel):
    """One verdict between two models' outputs for a prompt."""

    #: stable identity used to skip duplicates in a store; see `battle_id`
    id: str | None = None
    prompt: str = ""
    model_a: str
    model_b: str
    winner: Winner
    response_a: str | None = None
    response_b: str | None = None
    #: judge URI for LLM verdicts, or "human:NAME" for people
    judge: str | None = None
    time: float = Field(default_factory=time.time)
    #: anything else worth keeping (ids, both-order verdicts, lengths, domain...)
    meta: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Battle:
        """Known fields become attributes; unknown ones go to `meta` so nothing is lost."""
        known = set(cls.model_fields)
        data = {k: v for k, v in rec.items() if k in known}
        if data.get("id") is None or data["id"] == "":
            data.pop("id", None)
        elif not isinstance(data["id"], str):
            data["id"] = str(data["id"])
        extra = {k: v for k, v in rec.items() if k not in known}
        if extra:
            data["meta"] = {**(rec.get("meta") or {}), **extra}
        return cls(**data)

    def to_record(self) -> dict[str, Any]:
        rec = self.model_dump(exclude={"meta"}, exclude_none=True)
        rec.update(self.meta)
        return rec


def battle_id(rec: dict[str, Any]) -> str:
    """A record's battle id: its `id` field, else a hash of the rest of the record."""
    rid = rec.get("id")
    if rid is not None and str(rid) != "":
        return str(rid)
    body = {k: v for k, v in rec.items() if k != "id"}
    blob = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    return "sha1:" + hashlib.sha1(blob).hexdigest()[:20]


def assign_ids(battles: Sequence[Battle], records: Sequence[dict[str, Any]] | None = None) -> None:
    """Give every battle without an id one from its record (`records[i]`, else its own).

    Repeats of one content get `#2`, `#3`...: two identical votes are two votes, and
    reading the same file again gives the same ids.
    """
    seen: dict[str, int] = {}
    for i, bt in enumerate(battles):
        if bt.id is not None:
            continue
        base = battle_id(records[i] if records is not None else bt.to_record())
        n = seen[base] = seen.get(base, 0) + 1
        bt.id = base if n == 1 else f"{base}#{n}"


def parse_battles(records: Iterable[dict[str, Any]], source: str, lines: Sequence[int] | None = None) -> list[Battle]:
    """Validate records as battles and give each an id; the first bad one is reported in
    one line (with its line number when `lines` gives them)."""
    records = list(records)
    out = []
    for i, rec in enumerate(records, 1):
        where_in = f"{source}:{lines[i - 1]}: battle {i}" if lines is not None else f"{source}: battle {i}"
        try:
            battle = Battle.from_record(rec)
        except ValidationError as exc:
            raise BimoError(validation_line(exc, where_in) + " (need model_a, model_b, winner = model_a|model_b|tie)") from None
        if battle.model_a == battle.model_b:
            raise BimoError(f"{where_in} pits {battle.model_a!r} against itself")
        out.append(battle)
    assign_ids(out, records)
    return out


def read_battles_jsonl(path: str | Path) -> list[Battle]:
    """Battles from a JSONL file; a bad line is a one-line error naming the line."""
    from bimo.io import iter_jsonl_numbered

    numbered = list(iter_jsonl_numbered(path))
    return parse_battles([rec for _, rec in numbered], str(path), lines=[n for n, _ in numbered])


def load_battles(path: str | Path) -> list[Battle]:
    """Battles from a `.jsonl` file or a SQLite store (`.sqlite`, `.sqlite3`, `.db`)."""
    path = Path(path)
    if not path.exists():
        raise BimoError(f"file not found: {path}")
    if path.suffix in (".sqlite", ".sqlite3", ".db"):
        from bimo.evaluate.store import BattleStore

        return BattleStore(path).all()
    return read_battles_jsonl(path)
