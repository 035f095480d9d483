"""Streamed tool calls in the OpenAI shape: the real SDK against a real server process
(fake backend, so the calls are exact), plus the pieces that turn a JSON-schema
constrained answer into tool-call deltas. The same with the real tiny model is in
test_serve_openai.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from serve_util import stub_server_process

from bimo.serve.errors import ApiError
from bimo.serve.toolcalls import CallStream, forced_tools, schema_request, schema_tools
from fakes import CALL_ARGS, ScriptedBackend

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory) -> Iterator[str]:
    """A real uvicorn process around the real app and the fake backend (no key)."""
    with stub_server_process(tmp_path_factory.mktemp("tools")) as base:
        yield base


def _sse(base: str, body: dict) -> list[dict]:
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=30) as r:
        lines = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(x) for x in lines[:-1]]


def test_sdk_assembles_streamed_tool_call(fake_server: str) -> None:
    client = openai.OpenAI(base_url=f"{fake_server}/v1", api_key="unused", max_retries=0, timeout=30)
    with client.chat.completions.stream(model="fake", messages=MESSAGES, tools=TOOLS) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.id == "call_1" and call.type == "function" and call.function.name == "get_weather"
    assert call.function.arguments == "".join(CALL_ARGS)
    assert json.loads(call.function.arguments) == {"city": 'Paris, "FR"'}
    # The fragments arrived one by one, as the backend produced them.
    pieces = [e.arguments_delta for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert [p for p in pieces if p] == CALL_ARGS
    assert [e.type for e in events].count("tool_calls.function.arguments.done") == 1


def test_wire_format_of_tool_call_deltas(fake_server: str) -> None:
    chunks = _sse(fake_server, {"messages": MESSAGES, "tools": TOOLS, "stream": True})
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert all(tc["index"] == 0 for tc in calls)
    first, rest = calls[0], calls[1:]
    assert first["id"] == "call_1" and first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": ""}
    # id, type and name once only: clients concatenate every string they get per index
    assert all(set(tc) == {"index", "function"} and set(tc["function"]) == {"arguments"} for tc in rest)
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finishes[-1] == "tool_calls" and not any(finishes[:-1])


def test_whole_call_gets_index_and_string_arguments(tmp_path) -> None:
    """A backend that only has the final call: one well-formed delta carrying all of it."""
    from fastapi.testclient import TestClient

    from bimo.serve.app import create_app
    from bimo.serve.config import ServeConfig

    app = create_app(ServeConfig(data_dir=tmp_path), backend=ScriptedBackend(whole_calls=True), resume_jobs=False)
    with TestClient(app) as c, c.stream("POST", "/v1/chat/completions",
                                        json={"messages": MESSAGES, "tools": TOOLS, "stream": True}) as r:
        lines = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    chunks = [json.loads(x) for x in lines[:-1]]
    calls = [tc for ch in chunks for tc in ch["choices"][0]["delta"].get("tool_calls", [])]
    assert len(calls) == 1
    assert calls[0]["index"] == 0 and calls[0]["id"] == "call_1" and calls[0]["type"] == "function"
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": 'Paris, "FR"'}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_non_streamed_call_ends_with_tool_calls(fake_server: str) -> None:
    client = openai.OpenAI(base_url=f"{fake_server}/v1", api_key="unused", max_retries=0, timeout=30)
    r = client.chat.completions.create(model="fake", messages=MESSAGES, tools=TOOLS)
    assert r.choices[0].finish_reason == "tool_calls"
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_call_stream_splits_name_and_arguments() -> None:
    args = {"city": "Pa}ris", "tags": ["a", {"b": 'x\\"{'}], "n": 3}
    text = json.dumps({"name": "get_weather", "arguments": args}, ensure_ascii=False) + "\n"
    call = CallStream()
    deltas = [d for ch in text for d in call.feed(ch)]  # one character at a time
    head, rest = deltas[0], deltas[1:]
    assert head == {"index": 0, "id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    assert len(rest) > 5 and all(set(d) == {"index", "function"} for d in rest)
    assert json.loads("".join(d["function"]["arguments"] for d in rest)) == args
    assert call.closed and call.leftover() == []


def test_call_stream_in_one_piece_is_one_entry() -> None:
    call = CallStream()
    deltas = call.feed('{"name": "f", "arguments": {"x": 1}}')
    assert len(deltas) == 1 and deltas[0]["function"] == {"name": "f", "arguments": '{"x": 1}'}


def test_forced_tools() -> None:
    assert forced_tools({"tools": TOOLS}) is None
    assert forced_tools({"tools": TOOLS, "tool_choice": "auto"}) is None
    assert [f["name"] for f in forced_tools({"tools": TOOLS, "tool_choice": "required"})] == ["get_weather"]
    named = {"type": "function", "function": {"name": "get_weather"}}
    assert forced_tools({"tools": TOOLS, "tool_choice": named})[0]["name"] == "get_weather"
    with pytest.raises(ApiError, match="not in tools"):
        forced_tools({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}})
    req = {"tools": TOOLS, "tool_choice": "required"}
    assert schema_tools("auto", ScriptedBackend(), req) is None  # not in-process: the backend's own
    assert schema_tools("schema", ScriptedBackend(), req) is not None
    local = ScriptedBackend()
    local.uri = "local:tiny"
    assert schema_tools("auto", local, req) is not None
    assert schema_tools("native", local, req) is None


def test_schema_request_describes_tools_and_flattens_history() -> None:
    history = [{"role": "system", "content": "Be brief."}, *MESSAGES,
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]},
               {"role": "tool", "tool_call_id": "c1", "content": "sunny"}, *MESSAGES]
    req = schema_request({"messages": history, "tools": TOOLS, "tool_choice": "required", "max_tokens": 9},
                         [TOOLS[0]["function"]])
    assert "tools" not in req and "tool_choice" not in req and req["max_tokens"] == 9
    schema = req["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["name", "arguments"]  # name first: streamed first
    assert schema["properties"]["name"]["enum"] == ["get_weather"]
    msgs = req["messages"]
    assert msgs[0]["role"] == "system" and msgs[0]["content"].startswith("Be brief.") and "get_weather" in msgs[0]["content"]
    assert all(isinstance(m["content"], str) for m in msgs)
    assert "Rome" in msgs[2]["content"] and msgs[3] == {"role": "user", "content": "Result of get_weather: sunny"}


def test_backend_stream_keeps_tool_calls(tmp_path) -> None:
    """`Stream.chunks()` gives the raw deltas; the finished Completion holds the assembled
    call; a call answered from the request cache is replayed as a call, not lost."""
    from bimo.llm.cache import RequestCache

    backend = ScriptedBackend()
    stream = backend.stream_request({"messages": MESSAGES, "tools": TOOLS})
    chunks = list(stream.chunks())
    assert sum(bool(c["choices"][0]["delta"].get("tool_calls")) for c in chunks) == 1 + len(CALL_ARGS)
    msg = stream.completion.raw["choices"][0]["message"]
    assert stream.completion.finish_reason == "tool_calls" and msg["content"] is None
    assert msg["tool_calls"] == [{"id": "call_1", "type": "function",
                                  "function": {"name": "get_weather", "arguments": "".join(CALL_ARGS)}}]

    backend.cache = RequestCache(tmp_path / "cache.sqlite")
    req = {"messages": MESSAGES, "tools": TOOLS, "temperature": 0}
    backend.complete_request(req)  # cached: greedy
    replay = backend.stream_request(req)
    (chunk,) = list(replay.chunks())
    assert replay.completion.cached
    (call,) = chunk["choices"][0]["delta"]["tool_calls"]
    assert call["index"] == 0 and call["function"]["name"] == "get_weather"
