"""Limits of a real `bimo serve` process on loopback: CORS next to a key, request
fields that would not be honoured, arena generation bounds, keys that cannot travel
in a header, votes and jobs that survive a failing database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from serve_util import free_port, stub_server_process

from bimo.io import atomic_write_jsonl
from bimo.serve.jobs import JobManager
from conftest import PAIRS
from fakes import ScriptedBackend

KEY = "limits-key-42"
AUTH = {"Authorization": f"Bearer {KEY}"}
CHAT = {"messages": [{"role": "user", "content": "hi"}]}
SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def _security_headers(r: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (r.status_code, name, dict(r.headers))


def test_cors_preflight_passes_without_the_key_but_the_request_needs_it(tmp_path: Path) -> None:
    origin = "http://127.0.0.1:9"
    with stub_server_process(tmp_path, KEY, config={"cors_origins": [origin]}) as base:
        pre = httpx.options(f"{base}/v1/chat/completions", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert pre.status_code == 200, pre.text
        assert pre.headers["access-control-allow-origin"] == origin
        assert "authorization" in pre.headers["access-control-allow-headers"].lower()
        assert "POST" in pre.headers["access-control-allow-methods"]
        # Another origin's preflight is not allowed.
        other = httpx.options(f"{base}/v1/chat/completions", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in other.headers
        # The real request still needs the key; its 401 is readable by the page.
        r = httpx.post(f"{base}/v1/chat/completions", json=CHAT, headers={"Origin": origin})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == origin
        r = httpx.post(f"{base}/v1/chat/completions", json=CHAT, headers={"Origin": origin, **AUTH})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
        assert r.json()["choices"][0]["message"]["content"].startswith("word0")


def test_401_and_413_carry_the_security_headers(tmp_path: Path) -> None:
    with stub_server_process(tmp_path, KEY, config={"max_body_bytes": 1000}) as base:
        r = httpx.get(f"{base}/v1/models")
        assert r.status_code == 401
        _security_headers(r)
        r = httpx.post(f"{base}/v1/chat/completions", headers=AUTH,
                       json={"messages": [{"role": "user", "content": "x" * 5000}]})
        assert r.status_code == 413
        _security_headers(r)
        r = httpx.get(f"{base}/v1/models", headers=AUTH)
        assert r.status_code == 200
        _security_headers(r)


@pytest.mark.parametrize("key", ["clé-secrète", "密钥123", "two words"])
def test_a_key_a_header_cannot_carry_is_refused_at_start(tmp_path: Path, key: str) -> None:
    env = {**os.environ}
    env.pop("BIMO_API_KEY", None)
    try:
        proc = subprocess.run([sys.executable, "-m", "bimo.cli", "serve", "--model", "local:tiny",
                               "--port", str(free_port()), "--data-dir", str(tmp_path), "--api-key", key],
                              capture_output=True, text=True, env=env, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server started with the key {key!r} instead of refusing it")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "API key" in lines[0] and "ASCII" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_chat_fields_that_would_change_the_answer_are_400(tmp_path: Path) -> None:
    with stub_server_process(tmp_path, n_ctx=4096) as base:
        def post(**extra) -> httpx.Response:
            return httpx.post(f"{base}/v1/chat/completions", json={**CHAT, **extra}, timeout=30)

        for extra, field in [({"max_tokens": 5000}, "max_tokens"),
                             ({"max_completion_tokens": 4097}, "max_completion_tokens"),
                             ({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"top_logprobs": 3}, "top_logprobs"),
                             ({"response_format": {"type": "regex"}}, "response_format")]:
            r = post(**extra)
            assert r.status_code == 400, (extra, r.text)
            err = r.json()["error"]
            assert err["param"] == field and err["message"].startswith(field), r.text
        r = post(max_tokens=5000)
        assert "4096" in r.json()["error"]["message"]
        # Fields that change nothing are accepted, as OpenAI's API and llama.cpp's server do.
        r = post(max_tokens=4096, n=1, logprobs=False, user="u-1", metadata={"k": "v"}, store=False,
                 stream_options={"include_usage": True}, response_format={"type": "text"})
        assert r.status_code == 200, r.text


def test_tiny_model_bounds_max_tokens_by_its_context(tiny_server: str) -> None:
    """The real llama.cpp server: above the context is a clear 400; ignorable fields pass."""
    r = httpx.post(f"{tiny_server}/v1/chat/completions", json={**CHAT, "max_tokens": 100_000}, timeout=60)
    assert r.status_code == 400 and "context of 2048 tokens" in r.json()["error"]["message"], r.text
    r = httpx.post(f"{tiny_server}/v1/chat/completions", timeout=120, json={
        **CHAT, "max_tokens": 4, "user": "u-1", "metadata": {"k": "v"}, "store": False,
        "stream_options": {"include_usage": True}})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"]


def _get_pair(base: str, source: str) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=60) as client:
        return client.get(f"{base}/api/arena/pair")


def test_arena_generation_is_bounded_per_client(tmp_path: Path) -> None:
    config = {"arena_max_pending_per_client": 1, "arena_max_pending": 4}
    with stub_server_process(tmp_path, arena_delay=2.0, config=config) as base:
        # One client asking for three pairs at once: one is generated, two are refused.
        with ThreadPoolExecutor(3) as pool:
            got = list(pool.map(lambda _: _get_pair(base, "127.0.0.1"), range(3)))
        assert sorted(r.status_code for r in got) == [200, 429, 429], [r.text for r in got]
        refused = next(r for r in got if r.status_code == 429).json()["error"]
        assert refused["code"] == "too_many_pairs" and "already have 1" in refused["message"]
        # Once it is done, the same client may ask again.
        assert _get_pair(base, "127.0.0.1").status_code == 200


def test_arena_generation_is_bounded_in_all(tmp_path: Path) -> None:
    config = {"arena_max_pending_per_client": 1, "arena_max_pending": 2}
    with stub_server_process(tmp_path, arena_delay=2.0, config=config) as base:
        # Three clients (three loopback addresses) at once: the server-wide bound of two holds.
        with ThreadPoolExecutor(3) as pool:
            got = list(pool.map(lambda ip: _get_pair(base, ip), ["127.0.0.2", "127.0.0.3", "127.0.0.4"]))
        assert sorted(r.status_code for r in got) == [200, 200, 429], [r.text for r in got]
        assert "the server is generating 2" in next(r for r in got if r.status_code == 429).text


def test_a_vote_survives_a_failed_store_write(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    atomic_write_jsonl(pairs, PAIRS)
    db = tmp_path / "arena.sqlite"
    with stub_server_process(tmp_path / "d", config={"arena_pairs": str(pairs), "arena_db": str(db)},
                             arena_busy_timeout=0.3) as base:
        pair = httpx.get(f"{base}/api/arena/pair").json()
        with closing(sqlite3.connect(db, isolation_level=None)) as lock:
            lock.execute("BEGIN EXCLUSIVE")  # another writer holds the store
            r = httpx.post(f"{base}/api/arena/vote", json={"id": pair["id"], "verdict": "a"}, timeout=30)
            lock.execute("ROLLBACK")
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "vote_not_saved" and "send it again" in r.text
        r = httpx.post(f"{base}/api/arena/vote", json={"id": pair["id"], "verdict": "a"}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["leaderboard"]["n_battles"] == 1
        # Used once it is stored: the same ticket cannot vote twice.
        assert httpx.post(f"{base}/api/arena/vote", json={"id": pair["id"], "verdict": "b"}).status_code == 400


def test_job_queue_bound_holds_under_concurrent_submits(tmp_path: Path) -> None:
    with stub_server_process(tmp_path, config={"max_jobs": 1, "max_queued": 2}) as base:
        barrier = threading.Barrier(24)

        def submit(i: int) -> int:
            with httpx.Client(timeout=60) as client:
                barrier.wait()
                return client.post(f"{base}/api/jobs", json={"prompt": f"essay {i}"}).status_code

        with ThreadPoolExecutor(24) as pool:
            codes = list(pool.map(submit, range(24)))
        assert codes.count(200) == 3 and codes.count(429) == 21, codes
        assert httpx.get(f"{base}/api/info").json()["jobs"]["queued"] + 1 == 3


def _wait_status(jobs: JobManager, job_id: str, want: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.store.get(job_id)
        if job and job["status"] == want:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {want!r}: {jobs.store.get(job_id)}")


def test_a_database_error_fails_the_job_and_the_worker_keeps_serving(tmp_path: Path) -> None:
    go = threading.Event()

    def work(backend, prompt, length, run_dir, on_event):
        if prompt == "wait":
            go.wait(20)
        on_event({"type": "progress", "done": 1, "total": 1})
        return f"text of {prompt}", 7

    jobs = JobManager(ScriptedBackend(), tmp_path, work=work, max_jobs=1, db_timeout=0.2)
    first = jobs.submit("wait", None)
    _wait_status(jobs, first, "running")
    with closing(sqlite3.connect(tmp_path / "jobs.sqlite", isolation_level=None)) as lock:
        lock.execute("BEGIN EXCLUSIVE")  # the worker's next writes find the database locked
        go.set()
        time.sleep(1.0)
        lock.execute("ROLLBACK")
    failed = _wait_status(jobs, first, "failed")
    assert "database" in failed["error"] and "locked" in failed["error"], failed
    events = [e for _, e in jobs.store.events(first)]
    assert events[-1]["status"] == "failed" and events[-1]["error"] == failed["error"]
    second = jobs.submit("next", None)
    done = _wait_status(jobs, second, "done")
    assert done["result"] == "text of next"
