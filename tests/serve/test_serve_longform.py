"""The real long-form writer behind the jobs API, with the tiny model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
from serve_util import free_port, stop, wait_ready

from bimo.serve.jobs import JobManager


def test_real_longform_job(tiny_backend, tmp_path) -> None:
    jm = JobManager(tiny_backend, tmp_path)  # default work: bimo.write.longform
    job_id = jm.submit("Write a short essay about rivers.", 300)
    deadline = time.monotonic() + 600  # a busy 2-core machine needs about 4 minutes
    while (job := jm.store.get(job_id))["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job["status"] == "done", job["error"]
    assert job["result"].strip() and job["result_length"] > 0
    types = [e["type"] for _, e in jm.store.events(job_id)]
    assert "plan" in types and "section" in types and "done" in types
    assert (tmp_path / "jobs" / job_id / "state.json").exists()


def _status_events(base: str, job_id: str) -> list[dict]:
    with httpx.stream("GET", f"{base}/api/jobs/{job_id}/events", timeout=30) as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    return events


def test_real_jobs_queue_on_slots_and_survive_a_restart(tiny_path, tmp_path) -> None:
    """`bimo serve --model local:tiny --max-jobs 2` with three real long-form jobs: two run,
    the third waits its turn; after a SIGKILL and a restart all three finish, and at no
    time did more than two run."""
    port, data = free_port(), tmp_path / "data"
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BIMO_N_CTX": "2048"}
    env.pop("BIMO_API_KEY", None)
    args = [sys.executable, "-m", "bimo.cli", "serve", "--model", "local:tiny", "--port", str(port),
            "--data-dir", str(data), "--max-jobs", "2"]
    seen_running: list[int] = []

    def info() -> dict:
        jobs = httpx.get(f"{base}/api/info", timeout=10).json()["jobs"]
        seen_running.append(jobs["running"])
        return jobs

    def wait(pred, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := pred():
                return value
            time.sleep(1)
        raise AssertionError("condition not met in time")

    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(base, proc)
        ids = [httpx.post(f"{base}/api/jobs", json={"prompt": f"Write a short note about river number {i}.",
                                                    "length": 50}).json()["id"] for i in range(3)]
        assert info() == {"running": 2, "queued": 1, "max": 2}
        assert httpx.get(f"{base}/api/jobs/{ids[2]}").json()["position"] == 1
        # Kill while the first two are writing and the third still waits.
        wait(lambda: any(e.get("type") == "plan" for e in _events_in_db(data, ids[0])), 400)
        assert info()["queued"] == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        wait_ready(base, proc)
        wait(lambda: info()["running"] == 0 and all(
            httpx.get(f"{base}/api/jobs/{i}").json()["status"] in ("done", "failed") for i in ids), 900)
        jobs = [httpx.get(f"{base}/api/jobs/{i}").json() for i in ids]
        assert [j["status"] for j in jobs] == ["done"] * 3, [j["error"] for j in jobs]
        assert all(j["text"].strip() and j["length"] > 0 for j in jobs)
        assert [j["attempts"] for j in jobs] == [2, 2, 1]
        assert max(seen_running) <= 2

        # From the stored status events (with times, across both processes): never more
        # than two running at once, and started in the order they were submitted.
        timeline = []
        for n, job_id in enumerate(ids):
            events = _status_events(base, job_id)
            assert any(e.get("status") == "queued" and e.get("position") for e in events)
            assert events[-1] == {"status": "done"}
            timeline += [(e["t"], n, e["status"]) for e in events if e.get("type") == "status"]
        running: set[int] = set()
        first_start: dict[int, float] = {}
        for t, n, status in sorted(timeline):
            if status == "running":
                running.add(n)
                first_start.setdefault(n, t)
            else:  # queued again after the restart, or finished
                running.discard(n)
            assert len(running) <= 2, timeline
        assert first_start[0] <= first_start[2] and first_start[1] <= first_start[2]
        assert sorted(first_start) == [0, 1, 2]
    finally:
        stop(proc)


def _events_in_db(data, job_id: str) -> list[dict]:
    from bimo.serve.jobs import JobStore

    return [e for _, e in JobStore(data / "jobs.sqlite").events(job_id)]
