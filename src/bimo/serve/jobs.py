"""Long-form jobs that outlive the server: state and events in SQLite, work in threads.

A job is a prompt plus a length target. Its run folder (`<data>/jobs/<id>/`) is
chosen here, never by a client, and holds the writer's checkpoint. Every event the
writer reports (plan, section, progress, done) is appended to the `events` table,
so a client can follow a job from the start, reconnect with `Last-Event-ID`, or
follow it after a restart. On start-up, jobs left `queued` or `running` by a
previous process are run again: the writer resumes from its checkpoint.

Jobs wait in one first-in-first-out queue and at most `max_jobs` run at once
(default: half the backend's slots, at least one, so API requests keep slots of
their own). A waiting job reports `{"type": "status", "status": "queued",
"position": N}` when it joins the queue and again each time the line moves
(position 1 starts next). With a slot pool, every backend call a job makes waits
for a slot in the same line as the API requests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bimo.errors import BimoError
from bimo.llm.base import Backend

if TYPE_CHECKING:
    from bimo.serve.slots import SlotPool

#: run(backend, prompt, length, run_dir, on_event) -> (text, length)
JobWork = Callable[[Backend, str, int | None, Path, Callable[[dict], None]], tuple[str, int]]
TERMINAL = ("done", "failed")
#: when neither the request nor the prompt says how long
DEFAULT_LENGTH = 2000
#: jobs allowed to wait for a worker; more are refused (HTTP 429), never crash the server
MAX_QUEUED = 100


class QueueFull(BimoError):
    """Too many jobs are waiting already."""


def default_max_jobs(backend: Backend) -> int:
    """Half the backend's slots, at least one: jobs never take every slot from the API."""
    return max(1, int(getattr(backend, "parallel", 1) or 1) // 2)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, prompt TEXT NOT NULL, length INTEGER, status TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, result TEXT, result_length INTEGER,
    error TEXT, attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (job_id, seq));
"""


def run_longform_job(backend: Backend, prompt: str, length: int | None, run_dir: Path,
                    on_event: Callable[[dict], None]) -> tuple[str, int]:
    """The real writer; calling it again with the same folder continues from the checkpoint."""
    from bimo.write.longform import LongformWriter

    writer = LongformWriter.for_prompt(backend, prompt, length, default=DEFAULT_LENGTH, parallel=1)
    result = writer.run(prompt, run_dir=run_dir, on_event=on_event)
    return result.text, int(result.length)


class JobStore:
    """The jobs database; one short connection per call so threads never share one."""

    def __init__(self, path: Path, timeout: float = 30.0):
        self.path = path
        self.timeout = timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
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
    """A FIFO queue of jobs run by `max_jobs` worker threads; `resume()` picks up what a
    previous process left."""

    def __init__(self, backend: Backend, data_dir: Path, work: JobWork | None = None,
                 max_jobs: int | None = None, slots: SlotPool | None = None, max_queued: int = MAX_QUEUED,
                 db_timeout: float = 30.0):
        if slots is not None:
            from bimo.serve.slots import SlottedBackend

            backend = SlottedBackend(slots)
        self.backend = backend
        self.root = data_dir / "jobs"
        self.store = JobStore(data_dir / "jobs.sqlite", timeout=db_timeout)
        self.work = work or run_longform_job
        self.max_jobs = max(1, max_jobs or default_max_jobs(backend))
        self.max_queued = max_queued
        self._cond = threading.Condition()
        self._waiting: deque[str] = deque()
        self._running: set[str] = set()
        # Daemon threads: stopping the server must not wait for a long job; the job
        # stays 'running' in the database and resumes from its checkpoint next time.
        for i in range(self.max_jobs):
            threading.Thread(target=self._worker_loop, daemon=True, name=f"bimo-job-{i}").start()

    def _worker_loop(self) -> None:
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                job_id = self._waiting.popleft()
                self._running.add(job_id)
                # Everyone behind moved up one place; said under the lock so a client
                # never sees positions out of order.
                for pos, other in enumerate(self._waiting, 1):
                    self._safe(self._queued_event, other, pos)
            try:
                self._run(job_id)
            except Exception:  # never let one job end the worker
                traceback.print_exc()
                with self._cond:
                    self._running.discard(job_id)

    def submit(self, prompt: str, length: int | None) -> str:
        # Check, insert and enqueue under one lock: concurrent submits cannot all pass
        # the check before any of them is counted.
        with self._cond:
            if len(self._running) + len(self._waiting) >= self.max_jobs + self.max_queued:
                raise QueueFull(f"{len(self._waiting)} long-form jobs are waiting already; try again later")
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
        with self._cond:
            if job_id in self._running or job_id in self._waiting:
                return
            self._waiting.append(job_id)
            self.store.update(job_id, status="queued")
            self._queued_event(job_id, len(self._waiting))
            self._cond.notify()

    def _queued_event(self, job_id: str, position: int) -> None:
        self.store.add_event(job_id, {"type": "status", "status": "queued", "position": position,
                                      "running": len(self._running), "t": round(time.time(), 3)})

    def position(self, job_id: str) -> int | None:
        """1 for the next job to start; None when the job is not waiting."""
        with self._cond:
            try:
                return self._waiting.index(job_id) + 1
            except ValueError:
                return None

    def counts(self) -> dict[str, int]:
        with self._cond:
            return {"running": len(self._running), "queued": len(self._waiting), "max": self.max_jobs}

    def _safe(self, fn: Callable[..., Any], *args: Any) -> None:
        """A bookkeeping write that must not stop a worker: logged when it fails."""
        try:
            fn(*args)
        except sqlite3.Error:
            traceback.print_exc()

    def _run(self, job_id: str) -> None:
        try:
            job = self.store.get(job_id)
            if job is None:
                return
            run_dir = self.root / job_id
            run_dir.mkdir(parents=True, exist_ok=True)
            self.store.update(job_id, status="running", attempts=job["attempts"] + 1)
            self.store.add_event(job_id, {"type": "status", "status": "running", "t": round(time.time(), 3)})

            def on_event(event: dict) -> None:
                self.store.add_event(job_id, event)

            text, length = self.work(self.backend, job["prompt"], job["length"], run_dir, on_event)
            # The closing event goes in before the status flips, so whoever sees "done"
            # (an event stream, a poller) already finds every event stored.
            self.store.add_event(job_id, {"type": "status", "status": "done", "length": length,
                                          "t": round(time.time(), 3)})
            self.store.update(job_id, status="done", result=text, result_length=length)
        except Exception as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, sqlite3.Error):
                msg = f"the jobs database failed: {msg}"
            traceback.print_exc()
            self._record_failure(job_id, msg[:500])
        finally:
            with self._cond:
                self._running.discard(job_id)

    def _record_failure(self, job_id: str, msg: str, tries: int = 5) -> None:
        """Mark the job failed with its reason, retrying while the database is busy.

        If it still cannot be written, the job stays 'running' in the database and is
        run again (from its checkpoint) when the server next starts.
        """
        for attempt in range(tries):
            try:
                self.store.add_event(job_id, {"type": "status", "status": "failed", "error": msg,
                                              "t": round(time.time(), 3)})
                self.store.update(job_id, status="failed", error=msg)
                return
            except sqlite3.Error:
                if attempt == tries - 1:
                    traceback.print_exc()
                    return
                time.sleep(0.5 * (attempt + 1))
