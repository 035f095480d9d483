"""The battle record and how battles are read from JSONL files or a store.

A battle is one comparison of two outputs for one prompt. It is the common
currency of LLM-judge comparisons and human votes: win rates and ratings are
computed from battles alone, whoever produced them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from bimo.errors import BimoError

Winner = Literal["model_a", "model_b", "tie"]


class Battle(BaseModel):
    """One verdict between two models' outputs for a prompt."""

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
        extra = {k: v for k, v in rec.items() if k not in known}
        if extra:
            data["meta"] = {**(rec.get("meta") or {}), **extra}
        return cls(**data)

    def to_record(self) -> dict[str, Any]:
        rec = self.model_dump(exclude={"meta"}, exclude_none=True)
        rec.update(self.meta)
        return rec


def parse_battles(records: list[dict[str, Any]], source: str) -> list[Battle]:
    """Validate records as battles; the first bad one is reported in one line."""
    out = []
    for i, rec in enumerate(records, 1):
        try:
            battle = Battle.from_record(rec)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "record"
            raise BimoError(f"{source}: battle {i}: {where}: {err['msg']} "
                            "(need model_a, model_b, winner = model_a|model_b|tie)") from None
        if battle.model_a == battle.model_b:
            raise BimoError(f"{source}: battle {i} pits {battle.model_a!r} against itself")
        out.append(battle)
    return out


def load_battles(path: str | Path) -> list[Battle]:
    """Battles from a `.jsonl` file or a SQLite store (`.sqlite`, `.db`)."""
    from bimo.io import read_jsonl

    path = Path(path)
    if not path.exists():
        raise BimoError(f"file not found: {path}")
    if path.suffix in (".sqlite", ".sqlite3", ".db"):
        from bimo.evaluate.store import BattleStore

        return BattleStore(path).all()
    return parse_battles(read_jsonl(path), str(path))
