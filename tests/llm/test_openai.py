"""The openai: backend against real HTTP servers on loopback.

llama.cpp's own OpenAI-compatible server (the one xllamacpp runs next to the
in-process model) is the well-behaved server; small stdlib servers play the broken ones.
"""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from bimo.errors import BackendError
from bimo.llm import get_backend
from bimo.llm.openai_backend import OpenAIBackend

SCHEMA = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 40}, "stars": {"type": "integer"}},
          "required": ["title", "stars"]}


@pytest.fixture(scope="module")
def server_backend(tiny_backend):
    be = OpenAIBackend(tiny_backend.http_url + "/v1", "tiny", api_key=tiny_backend.api_key)
    yield be
    be.close()


def test_plain_completion(server_backend):
    comp = server_backend.chat("Say hello to the reader.", max_tokens=16, seed=1, cache=False)
    assert comp.text.strip() and comp.completion_tokens > 0


def test_streaming(server_backend):
    stream = server_backend.stream("Write a line about autumn.", max_tokens=20, seed=2, cache=False)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == stream.completion.text


def test_json_schema(server_backend):
    data = server_backend.chat_json("Review a film: give a title and a star count.", SCHEMA, max_tokens=80, seed=3)
    assert isinstance(data["title"], str) and isinstance(data["stars"], int)


def test_lists_models_when_unnamed(tiny_backend):
    be = OpenAIBackend(tiny_backend.http_url + "/v1", api_key=tiny_backend.api_key)
    assert be.model  # first model the server lists
    assert be.chat("Hi", max_tokens=4, cache=False).completion_tokens > 0


def test_wrong_api_key_is_a_clear_error(tiny_backend):
    be = OpenAIBackend(tiny_backend.http_url + "/v1", "tiny", api_key="wrong")
    with pytest.raises(BackendError, match="Invalid API Key|401|api key"):
        be.chat("Hi", max_tokens=4, cache=False)


def test_unreachable_server():
    be = get_backend("openai:http://127.0.0.1:9/v1#m")
    be.backoff = 0.01
    with pytest.raises(BackendError, match=r"cannot reach the server .*gave up after 4 attempts"):
        be.chat("Hi", max_tokens=4, cache=False)


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "garbage"
    hits = 0

    def do_POST(self) -> None:  # noqa: N802
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "garbage":
            body, code = b"<html>not json at all</html>", 200
        elif self.mode == "flaky" and type(self).hits < 3:
            body, code = b'{"error": {"message": "overloaded"}}', 503
        else:
            body, code = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": "ok"}}]}).encode(), 200
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _serve(mode: str):
    handler = type("H", (_Handler,), {"mode": mode, "hits": 0})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, handler


def test_garbage_response_is_a_clear_error():
    srv, _ = _serve("garbage")
    try:
        be = get_backend(f"openai:http://127.0.0.1:{srv.server_port}/v1#m")
        with pytest.raises(BackendError, match="garbage|not OpenAI-compatible|no choices"):
            be.chat("Hi", max_tokens=4, cache=False)
    finally:
        srv.shutdown()


def test_transient_errors_are_retried():
    srv, handler = _serve("flaky")
    try:
        be = get_backend(f"openai:http://127.0.0.1:{srv.server_port}/v1#m")
        be.backoff = 0.01
        assert be.chat("Hi", max_tokens=4, cache=False).text == "ok"
        assert handler.hits == 3
    finally:
        srv.shutdown()


def test_dry_sampler_travels_to_a_llama_cpp_server(server_backend):
    from bimo.llm.base import GenParams

    ask = "Write the sentence 'the cat sat on the mat' ten times."
    base = GenParams(max_tokens=60, temperature=0.0, seed=1)
    plain = server_backend.chat(ask, base, cache=False).text
    dry = server_backend.chat(ask, base.model_copy(update={"dry_multiplier": 2.0}), cache=False).text
    assert dry != plain
    assert GenParams(dry_multiplier=0.8).to_request([])["dry_penalty_last_n"] == 4096
    assert "dry_multiplier" not in GenParams().to_request([])


def _busy_slots(local) -> int:
    """How many slots of the llama.cpp server behind `local` are generating now."""
    import urllib.request

    req = urllib.request.Request(local.http_url + "/slots", headers={"Authorization": f"Bearer {local.api_key}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return sum(bool(s.get("is_processing")) for s in json.load(resp))


@pytest.mark.parametrize("via", ["openai", "local"])
def test_an_abandoned_stream_frees_its_slot(tiny_backend, server_backend, via):
    """The long-form writer stops a looping piece by closing its stream: generation must stop
    (the slot is free for the next request) and the tokens decoded so far are counted."""
    import time

    from bimo.llm.base import GenParams

    be = server_backend if via == "openai" else tiny_backend
    request = {**GenParams(max_tokens=4000, seed=5).to_request([{"role": "user", "content": "Write a long story."}]),
               "ignore_eos": True}
    stream = be.stream_request(request, cache=False)
    busy_while_streaming, got = 0, 0
    for _ in stream:
        got += 1
        if got == 5:
            busy_while_streaming = _busy_slots(tiny_backend)
            stream.close()
    assert busy_while_streaming == 1 and stream.completion.completion_tokens == got < 4000
    deadline = time.monotonic() + 10  # 4,000 tokens take longer than this, even on a fast machine
    while _busy_slots(tiny_backend) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _busy_slots(tiny_backend) == 0
