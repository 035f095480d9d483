"""Long-form jobs that outlive the server: state and events in SQLite, work in threads.

A job is a prompt plus a length target. Its run folder (`<data>/jobs/<id>/`) is
chosen here, never by a client, and holds the writer's checkpoint. Every event the
writer reports (plan, section, progress, done) is appended to the `events` table,
so a client can follow a job from the start, reconnect with `Last-Event-ID`, or
follow it after a restart. On start-up, jobs left `queued` or `running` by a
previous process are run again: the writer resumes from its checkpoint.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from bimo.llm.base import Backend

#: run(backend, prompt, length, run_dir, on_event) -> (text, length)
Runner = Callable[[Backend, str, int | None, Path, Callable[[dict], None]], tuple[str, int]]
TERMINAL = ("done", "failed")
#: when neither the request nor the prompt says how long
DEFAULT_LENGTH = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, prompt TEXT NOT NULL, length INTEGER, status TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, result TEXT, result_length INTEGER,
    error TEXT, attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (job_id, seq));
"""


def longform_runner(backend: Backend, prompt: str, length: int | None, run_dir: Path,
                    on_event: Callable[[dict], None]) -> tuple[str, int]:
    """The real writer; calling it again with the same folder continues from the checkpoint."""
    from bimo.write.lengthreq import detect_length
    from bimo.write.longform import LongformConfig, LongformWriter

    target = length or detect_length(prompt) or DEFAULT_LENGTH
    writer = LongformWriter(backend, LongformConfig(length=target, parallel=1))
    result = writer.run(prompt, run_dir=run_dir, on_event=on_event)
    return result.text, int(result.length)


class JobStore:
    """The jobs database; one short connection per call so threads never share one."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        return con

    def create(self, prompt: str, length: int | None) -> str:
        job_id = uuid.uuid4().hex[:16]
        now = time.time()
        with closing(self._connect()) as con:
            con.execute("INSERT INTO jobs (id, prompt, length, status, created, updated) VALUES (?,?,?,?,?,?)",
                        (job_id, prompt, length, "queued", now, now))
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        with closing(self._connect()) as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def update(self, job_id: str, **fields: Any) -> None:
        fields["updated"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with closing(self._connect()) as con:
            con.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    def unfinished(self) -> list[str]:
        with closing(self._connect()) as con:
            rows = con.execute("SELECT id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created")
            return [r[0] for r in rows]

    def add_event(self, job_id: str, event: dict) -> int:
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            seq = con.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE job_id = ?",
                              (job_id,)).fetchone()[0]
            con.execute("INSERT INTO events VALUES (?,?,?)", (job_id, seq, json.dumps(event, ensure_ascii=False)))
            con.execute("COMMIT")
        return seq

    def events(self, job_id: str, after: int = 0) -> list[tuple[int, dict]]:
        with closing(self._connect()) as con:
            rows = con.execute("SELECT seq, data FROM events WHERE job_id = ? AND seq > ? ORDER BY seq",
                               (job_id, after)).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]


class JobManager:
    """Runs jobs on a small thread pool; `resume()` picks up what a previous process left."""

    def __init__(self, backend: Backend, data_dir: Path, runner: Runner | None = None, workers: int = 1):
        self.backend = backend
        self.root = data_dir / "jobs"
        self.store = JobStore(data_dir / "jobs.sqlite")
        self.runner = runner or longform_runner
        self._queue: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._active: set[str] = set()
        # Daemon threads: stopping the server must not wait for a long job; the job
        # stays 'running' in the database and resumes from its checkpoint next time.
        for i in range(max(1, workers)):
            threading.Thread(target=self._work, daemon=True, name=f"bimo-job-{i}").start()

    def _work(self) -> None:
        while True:
            self._run(self._queue.get())

    def submit(self, prompt: str, length: int | None) -> str:
        job_id = self.store.create(prompt, length)
        self._schedule(job_id)
        return job_id

    def resume(self) -> list[str]:
        ids = self.store.unfinished()
        for job_id in ids:
            self.store.add_event(job_id, {"type": "resumed"})
            self._schedule(job_id)
        return ids

    def _schedule(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._active:
                return
            self._active.add(job_id)
        self._queue.put(job_id)

    def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        try:
            if job is None:
                return
            run_dir = self.root / job_id
            run_dir.mkdir(parents=True, exist_ok=True)
            self.store.update(job_id, status="running", attempts=job["attempts"] + 1)
            self.store.add_event(job_id, {"type": "status", "status": "running"})

            def on_event(event: dict) -> None:
                self.store.add_event(job_id, event)

            text, length = self.runner(self.backend, job["prompt"], job["length"], run_dir, on_event)
            self.store.update(job_id, status="done", result=text, result_length=length)
            self.store.add_event(job_id, {"type": "status", "status": "done", "length": length})
        except Exception as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.store.update(job_id, status="failed", error=msg[:500])
            self.store.add_event(job_id, {"type": "status", "status": "failed", "error": msg[:500]})
            traceback.print_exc()
        finally:
            with self._lock:
                self._active.discard(job_id)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._active)
