"""SQLite battle store shared by the judge, the ratings and the web server.

Several processes may append at once (a judging run and people voting in the
browser), so the database runs in WAL mode with a generous busy timeout and every
write is its own short transaction. Each call opens its own connection: sqlite
connections must not cross threads or processes.

Battles are unique by id (`battles.battle_id`): importing a file twice, or adding
the battles of a comparison again, skips the ones already there.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from bimo.errors import BimoError
from bimo.evaluate.battles import Battle, assign_ids

_SCHEMA = """
CREATE TABLE IF NOT EXISTS battles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt TEXT NOT NULL,
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    winner TEXT NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie')),
    response_a TEXT,
    response_b TEXT,
    judge TEXT,
    time REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    battle_id TEXT
);
CREATE INDEX IF NOT EXISTS battles_models ON battles (model_a, model_b);
"""
_UNIQUE = "CREATE UNIQUE INDEX IF NOT EXISTS battles_battle_id ON battles (battle_id)"
_COLS = ("prompt", "model_a", "model_b", "winner", "response_a", "response_b", "judge", "time", "meta", "battle_id")


class BattleStore:
    """Append-only battles in one SQLite file: `add`, `add_many`, `all`, JSONL import/export.

    Opening a path that does not exist creates an empty store there.
    """

    def __init__(self, path: str | Path, busy_timeout_s: float = 60.0):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as con:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_SCHEMA)
                con.execute(_UNIQUE)
        except sqlite3.DatabaseError as exc:
            raise BimoError(f"{self.path} is not a usable battle store ({exc})") from None

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        # NORMAL is durable in WAL mode except on power loss of the last commits.
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    def add(self, battle: Battle | dict) -> int:
        """Append one battle; returns its row id. A battle whose id is taken is an error."""
        return self.add_many([battle])[0]

    def add_many(self, battles: Iterable[Battle | dict], *, skip_existing: bool = False) -> list[int | None]:
        """Append battles in one transaction (all or none); returns their row ids.

        Battles without an id get one from their content (see `battles.assign_ids`).
        With `skip_existing`, a battle whose id is already stored (or repeated in the
        batch) is skipped and its entry is None; without it, that is an error.
        """
        items = [b if isinstance(b, Battle) else Battle.from_record(b) for b in battles]
        if any(b.id is None for b in items):
            items = [b.model_copy() for b in items]
            assign_ids(items)
        rows = [_row(b) for b in items]
        verb = "INSERT OR IGNORE" if skip_existing else "INSERT"
        sql = f"{verb} INTO battles ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})"
        ids: list[int | None] = []
        with closing(self._connect()) as con:
            # IMMEDIATE takes the write lock up front, so two writers queue on the
            # busy timeout instead of failing on a lock upgrade.
            con.execute("BEGIN IMMEDIATE")
            try:
                for row, bt in zip(rows, items, strict=True):
                    try:
                        cur = con.execute(sql, row)
                    except sqlite3.IntegrityError:
                        raise BimoError(f"battle {bt.id} is already in {self.path}") from None
                    ids.append(cur.lastrowid if cur.rowcount else None)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return ids

    def import_battles(self, battles: Iterable[Battle | dict]) -> tuple[int, int]:
        """Add the battles not stored yet (by id); returns (added, skipped)."""
        ids = self.add_many(battles, skip_existing=True)
        added = sum(i is not None for i in ids)
        return added, len(ids) - added

    def all(self) -> list[Battle]:
        """Every battle, in insertion order."""
        with closing(self._connect()) as con:
            cur = con.execute(f"SELECT {', '.join(_COLS)} FROM battles ORDER BY id")
            return [_battle(r) for r in cur.fetchall()]

    def count(self) -> int:
        with closing(self._connect()) as con:
            return con.execute("SELECT COUNT(*) FROM battles").fetchone()[0]

    def import_jsonl(self, path: str | Path) -> int:
        """Add the battles of a JSONL file that are not stored yet; returns how many were added.

        The whole file is checked first: one bad line and nothing is added.
        """
        from bimo.evaluate.battles import read_battles_jsonl

        return self.import_battles(read_battles_jsonl(path))[0]

    def export_jsonl(self, path: str | Path) -> int:
        """Write all battles, ids included, to a JSONL file (atomically); returns how many."""
        from bimo.io import atomic_write_jsonl

        battles = self.all()
        atomic_write_jsonl(path, (b.to_record() for b in battles))
        return len(battles)


def _row(b: Battle) -> tuple:
    return (b.prompt, b.model_a, b.model_b, b.winner, b.response_a, b.response_b, b.judge, b.time,
            json.dumps(b.meta, ensure_ascii=False), b.id)


def _battle(row: tuple) -> Battle:
    data = dict(zip(_COLS, row, strict=True))
    data["meta"] = json.loads(data["meta"] or "{}")
    data["id"] = data.pop("battle_id")
    return Battle(**data)
