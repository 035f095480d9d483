"""Helpers for the serve tests: free loopback ports, waiting for a server, stopping it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120, headers: dict | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2, headers=headers).status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not start in time")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def stub_server_process(data_dir: Path, key: str | None = None, **options: Any) -> Iterator[str]:
    """A real uvicorn process around the real app, the fake backend and a stub writer;
    `options` as stub_server.py reads them from BIMO_STUB_OPTIONS."""
    port = free_port()
    args = [sys.executable, str(HERE / "stub_server.py"), str(port), str(data_dir)] + ([key] if key else [])
    env = {**os.environ, "BIMO_STUB_OPTIONS": json.dumps(options)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc, timeout=60, headers={"Authorization": f"Bearer {key}"} if key else None)
        yield base
    finally:
        stop(proc)


@contextmanager
def bimo_serve_process(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`bimo serve ARGS` as a real process on a free loopback port, without an API key."""
    port = free_port()
    env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in ("BIMO_API_KEY", "OPENAI_API_KEY")}
    proc = subprocess.Popen([sys.executable, "-m", "bimo.cli", "serve", *args, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base
    finally:
        stop(proc)
