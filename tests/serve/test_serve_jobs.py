"""Long-form jobs: SQLite state, event replay, and resuming after the server is killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from serve_util import HERE, free_port, stop, wait_ready

from bimo.serve.jobs import JobManager
from fakes import ScriptedBackend, stub_job


def _wait(pred, timeout: float = 30, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def test_manager_runs_and_records_events(tmp_path: Path) -> None:
    jm = JobManager(ScriptedBackend(), tmp_path, work=lambda *a: stub_job(*a, sections=3, pause=0.0))
    job_id = jm.submit("A story about tea", 600)
    job = _wait(lambda: (j := jm.store.get(job_id)) and j["status"] == "done" and j)
    assert job["result"].count("## Part") == 3 and job["result_length"] == len(job["result"])
    events = [e for _, e in jm.store.events(job_id)]
    types = [e["type"] for e in events]
    assert types[:3] == ["status", "status", "plan"] and types[-2:] == ["done", "status"]
    assert [e["status"] for e in events[:2]] == ["queued", "running"] and events[0]["position"] == 1
    assert types.count("section") == 3 and types.count("progress") == 3
    after = jm.store.events(job_id)[2][0]
    assert [s for s, _ in jm.store.events(job_id, after)][0] == after + 1


def test_failed_job_reports_one_line(tmp_path: Path) -> None:
    def boom(*args):
        raise RuntimeError("writer exploded\nsecond line")

    jm = JobManager(ScriptedBackend(), tmp_path, work=boom)
    job_id = jm.submit("x", None)
    job = _wait(lambda: (j := jm.store.get(job_id)) and j["status"] == "failed" and j)
    assert job["error"] == "writer exploded"


class Gauge:
    """Counts jobs at work at once; `gate` holds them until released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.started: list[str] = []
        self.gate = threading.Event()

    def work(self, backend, prompt, length, run_dir, on_event):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.started.append(prompt)
        try:
            self.gate.wait(30)
            time.sleep(0.05)
            return f"text of {prompt}", 10
        finally:
            with self.lock:
                self.now -= 1


def test_queue_runs_at_most_max_jobs_in_order_with_positions(tmp_path: Path) -> None:
    gauge = Gauge()
    jm = JobManager(ScriptedBackend(parallel=4), tmp_path, work=gauge.work)
    assert jm.max_jobs == 2  # half the backend's 4 slots
    ids = [jm.submit(f"job {i}", 100) for i in range(5)]
    _wait(lambda: len(gauge.started) == 2)
    time.sleep(0.2)
    assert jm.counts() == {"running": 2, "queued": 3, "max": 2}
    assert [jm.position(i) for i in ids] == [None, None, 1, 2, 3]
    gauge.gate.set()
    for job_id in ids:
        _wait(lambda job_id=job_id: jm.store.get(job_id)["status"] == "done")
    # First in, first out; two workers may record their starts in either order.
    assert gauge.peak == 2 and sorted(gauge.started) == [f"job {i}" for i in range(5)]
    assert all(abs(gauge.started.index(f"job {i}") - i) <= 1 for i in range(5)), gauge.started
    # The last job heard its place in line go down as the queue moved, then ran.
    last = [e for _, e in jm.store.events(ids[4]) if e["type"] == "status"]
    positions = [e["position"] for e in last if e["status"] == "queued"]
    # (at submit it was 3rd to 5th in line, depending on whether the workers had picked up the first two yet)
    assert positions == sorted(positions, reverse=True) and 3 <= positions[0] <= 5 and positions[-1] == 1
    assert [e["status"] for e in last][-2:] == ["running", "done"]


def test_max_jobs_and_full_queue(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from bimo.serve.app import create_app
    from bimo.serve.config import ServeConfig

    gauge = Gauge()
    app = create_app(ServeConfig(data_dir=tmp_path, max_jobs=1, max_queued=1), backend=ScriptedBackend(parallel=4),
                     job_work=gauge.work, resume_jobs=False)
    with TestClient(app) as c:
        first = c.post("/api/jobs", json={"prompt": "one"}).json()["id"]
        _wait(lambda: gauge.started)
        r = c.post("/api/jobs", json={"prompt": "two"})
        assert r.json()["position"] == 1
        second = r.json()["id"]
        r = c.post("/api/jobs", json={"prompt": "three"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "queue_full"
        assert c.get(f"/api/jobs/{second}").json()["position"] == 1
        assert c.get("/api/info").json()["jobs"] == {"running": 1, "queued": 1, "max": 1}
        gauge.gate.set()
        _wait(lambda: c.get(f"/api/jobs/{second}").json()["status"] == "done")
        assert c.get(f"/api/jobs/{first}").json()["status"] == "done" and gauge.peak == 1


def test_job_calls_share_the_slots_with_api_requests(tmp_path: Path) -> None:
    """A job's backend calls queue with the API's: the backend never sees more than its slots."""
    import asyncio

    import uvicorn

    from bimo.serve.app import create_app
    from bimo.serve.config import ServeConfig

    backend = ScriptedBackend(words=10, delay=0.02, parallel=2)

    def greedy_job(b, prompt, length, run_dir, on_event):
        def one() -> None:
            b.chat("section", max_tokens=10)
            for _ in b.stream("section", max_tokens=10):
                pass

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return "ok", 2

    port = free_port()
    app = create_app(ServeConfig(port=port, data_dir=tmp_path), backend=backend, job_work=greedy_job,
                     resume_jobs=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: server.started)

        async def main() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                body = {"messages": [{"role": "user", "content": "go"}], "stream": True}

                async def chat() -> int:
                    async with client.stream("POST", f"{base}/v1/chat/completions", json=body) as r:
                        return sum([1 async for line in r.aiter_lines() if "word" in line])

                job = (await client.post(f"{base}/api/jobs", json={"prompt": "p", "length": 100})).json()["id"]
                got = await asyncio.gather(*(chat() for _ in range(6)))
                for _ in range(300):
                    if (await client.get(f"{base}/api/jobs/{job}")).json()["status"] == "done":
                        break
                    await asyncio.sleep(0.1)
                return got

        assert asyncio.run(main()) == [10] * 6
        assert len(backend.requests) == 6 + 8
        assert backend.peak <= 2, f"backend saw {backend.peak} requests at once with 2 slots"
        info = httpx.get(f"{base}/api/info").json()
        assert info["active"] == 0 and info["waiting"] == 0
    finally:
        server.should_exit = True
        thread.join(10)


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
