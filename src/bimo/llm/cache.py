"""A persistent request cache in SQLite: repeat a run, reuse finished generations.

Keyed by the backend URI and the canonical JSON of the request, so any change in
prompt, settings or seed is a different entry. Safe for several processes (WAL).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from bimo import paths


class RequestCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as con:
            con.execute("CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, response TEXT NOT NULL)")

    @classmethod
    def default(cls) -> RequestCache | None:
        if os.environ.get("BIMO_NO_CACHE"):
            return None
        return cls(os.environ.get("BIMO_CACHE") or paths.cache_db())

    def _conn(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        return con

    @staticmethod
    def key(uri: str, request: dict[str, Any]) -> str:
        req = {k: v for k, v in request.items() if k != "stream"}
        blob = json.dumps([uri, req], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, uri: str, request: dict[str, Any]) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT response FROM generations WHERE key=?", (self.key(uri, request),)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, uri: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        self._conn().execute("INSERT OR REPLACE INTO generations VALUES (?, ?)",
                             (self.key(uri, request), json.dumps(response, ensure_ascii=False)))

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM generations").fetchone()[0]
