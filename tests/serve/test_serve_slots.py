"""Under load: requests queue on the backend's slots, and a client that leaves frees its slot.

A real uvicorn server runs in a thread on 127.0.0.1 around a slow fake backend, so a
disconnect is a real closed socket, not a simulated one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from serve_util import free_port

from bimo.serve.app import create_app
from bimo.serve.config import ServeConfig
from fakes import ScriptedBackend


@pytest.fixture
def slow_server(tmp_path) -> Iterator[tuple[str, ScriptedBackend]]:
    backend = ScriptedBackend(words=40, delay=0.05, parallel=2)
    port = free_port()
    app = create_app(ServeConfig(port=port, data_dir=tmp_path), backend=backend, resume_jobs=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield base, backend
    server.should_exit = True
    thread.join(10)


def _body(stream: bool = True) -> dict:
    return {"messages": [{"role": "user", "content": "go"}], "stream": stream}


def test_disconnect_mid_stream_frees_the_slot(slow_server) -> None:
    base, backend = slow_server
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=_body(), timeout=10) as r:
        got = 0
        for line in r.iter_lines():
            got += line.startswith("data:")
            if got >= 3:
                break  # leave mid-answer: closes the connection
    deadline = time.monotonic() + 5
    while (backend.stopped < 1 or backend.running) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.stopped == 1, "the backend should have been told to stop"
    assert backend.running == 0
    info = httpx.get(f"{base}/api/info").json()
    assert info["active"] == 0 and info["waiting"] == 0


def test_concurrent_requests_queue_on_slots(slow_server) -> None:
    base, backend = slow_server

    async def one(client: httpx.AsyncClient, stream: bool) -> str:
        if not stream:
            r = await client.post(f"{base}/v1/chat/completions", json=_body(False))
            return r.json()["choices"][0]["message"]["content"]
        parts = []
        async with client.stream("POST", f"{base}/v1/chat/completions", json=_body()) as r:
            async for line in r.aiter_lines():
                parts.append(line)
        return "\n".join(parts)

    async def main() -> list[str]:
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(one(client, i % 3 != 0) for i in range(10)))

    outs = asyncio.run(main())
    assert all("word39" in o for o in outs)
    assert backend.peak <= 2, f"backend saw {backend.peak} concurrent requests with 2 slots"
    assert all(o.rstrip().endswith("data: [DONE]") for o in outs if "data:" in o)
