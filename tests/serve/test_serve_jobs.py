"""Long-form jobs: SQLite state, event replay, and resuming after the server is killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from serve_fakes import FakeBackend, stub_runner

from bimo.serve.jobs import JobManager
from conftest import HERE, free_port, stop, wait_ready


def _wait(pred, timeout: float = 30, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def test_manager_runs_and_records_events(tmp_path: Path) -> None:
    jm = JobManager(FakeBackend(), tmp_path, runner=lambda *a: stub_runner(*a, sections=3, pause=0.0))
    job_id = jm.submit("A story about tea", 600)
    job = _wait(lambda: (j := jm.store.get(job_id)) and j["status"] == "done" and j)
    assert job["result"].count("## Part") == 3 and job["result_length"] == len(job["result"])
    types = [e["type"] for _, e in jm.store.events(job_id)]
    assert types[:2] == ["status", "plan"] and types[-2:] == ["done", "status"]
    assert types.count("section") == 3 and types.count("progress") == 3
    after = jm.store.events(job_id)[2][0]
    assert [s for s, _ in jm.store.events(job_id, after)][0] == after + 1


def test_failed_job_reports_one_line(tmp_path: Path) -> None:
    def boom(*args):
        raise RuntimeError("writer exploded\nsecond line")

    jm = JobManager(FakeBackend(), tmp_path, runner=boom)
    job_id = jm.submit("x", None)
    job = _wait(lambda: (j := jm.store.get(job_id)) and j["status"] == "failed" and j)
    assert job["error"] == "writer exploded"


def _start(port: int, data: Path, key: str | None = None) -> subprocess.Popen:
    args = [sys.executable, str(HERE / "stub_server.py"), str(port), str(data)] + ([key] if key else [])
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_job_resumes_after_server_is_killed(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "data"
    base = f"http://127.0.0.1:{port}"
    proc = _start(port, data)
    try:
        wait_ready(base, proc, timeout=60)
        job_id = httpx.post(f"{base}/api/jobs", json={"prompt": "An essay on rivers", "length": 1200}).json()["id"]
        run_dir = data / "jobs" / job_id
        _wait(lambda: len(list(run_dir.glob("section_*.txt"))) >= 2)
        proc.send_signal(signal.SIGKILL)  # no graceful shutdown: a crash
        proc.wait(10)
        done_before = len(list(run_dir.glob("section_*.txt")))
        assert done_before < 6, "job finished before the kill; slow the stub down"

        proc = _start(port, data)
        wait_ready(base, proc, timeout=60)
        job = _wait(lambda: (j := httpx.get(f"{base}/api/jobs/{job_id}").json())["status"] == "done" and j)
        assert job["text"].count("## Part") == 6 and job["attempts"] == 2
        calls = (run_dir / "calls.log").read_text().split()
        assert sorted(set(calls)) == [str(i) for i in range(6)]
        assert all(calls.count(str(i)) == 1 for i in range(done_before)), "finished sections were redone"

        # The event stream replays everything, across both processes, then ends.
        with httpx.stream("GET", f"{base}/api/jobs/{job_id}/events", timeout=30) as r:
            events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
        types = [e.get("type") for e in events]
        assert "resumed" in types and types.count("plan") == 2
        assert events[-1] == {"status": "done"}
        with httpx.stream("GET", f"{base}/api/jobs/{job_id}/events", headers={"Last-Event-ID": "3"}) as r:
            ids = [int(line[3:]) for line in r.iter_lines() if line.startswith("id:")]
        assert ids[0] == 4
    finally:
        stop(proc)
