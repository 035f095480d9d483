"""Servers for the serve tests: real processes on loopback only, never another address."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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


PAIRS = [
    {"prompt": "写一句关于秋天的诗。", "model_a": "model-x", "model_b": "model-y",
     "response_a": "秋风起兮白云飞。", "response_b": "秋天来了，叶子黄了。"},
    {"prompt": "Write a one-line slogan for a library.", "model_a": "model-x", "model_b": "model-y",
     "response_a": "Read more, wonder more.", "response_b": "Books are here."},
]


@pytest.fixture(scope="session")
def tiny_server(tiny_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`bimo serve --model local:tiny` as a real process, with a small arena pairs file."""
    data = tmp_path_factory.mktemp("serve")
    pairs = data / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PAIRS), encoding="utf-8")
    port = free_port()
    env = {**os.environ, "BIMO_N_CTX": "2048"}
    env.pop("BIMO_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "bimo.cli", "serve", "--model", "local:tiny", "--port", str(port),
                             "--data-dir", str(data / "d"), "--arena-pairs", str(pairs)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base
    finally:
        stop(proc)


@pytest.fixture
def artifacts() -> Path:
    """Screenshots land in artifacts/serve (git-ignored) so CI can keep them."""
    path = REPO / "artifacts" / "serve"
    path.mkdir(parents=True, exist_ok=True)
    return path
