"""The real OpenAI SDK against a real `bimo serve --model local:tiny` on loopback."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import BaseModel, Field


@pytest.fixture(scope="module")
def client(tiny_server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{tiny_server}/v1", api_key="unused", max_retries=0, timeout=120)


def test_models(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list().data]
    assert ids == ["local:tiny"]


def test_plain(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="local:tiny", max_tokens=16, temperature=0,
                                       messages=[{"role": "user", "content": "Say hello."}])
    assert r.object == "chat.completion"
    assert r.choices[0].message.content.strip()
    assert r.usage.completion_tokens > 0


def test_streaming(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="local:tiny", max_tokens=16, stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "Count: one, two,"}])
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) >= 2, "answer should arrive in several pieces"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [finishes[-1]] and finishes[-1] in ("stop", "length")


def test_stream_wire_format_ends_with_done(tiny_server: str) -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True}
    with httpx.stream("POST", f"{tiny_server}/v1/chat/completions", json=body, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line.startswith("data:")]
    assert lines[-1] == "data: [DONE]"


def test_json_schema(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "rank": {"type": "integer"}},
              "required": ["city", "rank"], "additionalProperties": False}
    r = client.chat.completions.create(
        model="local:tiny", max_tokens=48, temperature=0,
        messages=[{"role": "user", "content": "Name a big city and its rank as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}})
    data = json.loads(r.choices[0].message.content)
    assert set(data) == {"city", "rank"} and isinstance(data["rank"], int)


def test_tools_pass_through(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                               "parameters": {"type": "object", "properties": {
                                                   "city": {"type": "string"}}, "required": ["city"]}}}]
    r = client.chat.completions.create(model="local:tiny", max_tokens=24, tools=tools, temperature=0,
                                       messages=[{"role": "user", "content": "Weather in Paris?"}])
    msg = r.choices[0].message
    # A 135M model may or may not call the tool; the request must round-trip either way.
    assert msg.content or msg.tool_calls
    stream = client.chat.completions.create(model="local:tiny", max_tokens=24, tools=tools, stream=True,
                                            messages=[{"role": "user", "content": "Weather in Paris?"}])
    chunks = [c for c in stream if c.choices]
    # SmolLM2's chat template has no tools, so llama.cpp answers in text: streamed as text.
    assert sum(bool(c.choices[0].delta.content) for c in chunks) >= 2
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


class GetWeather(BaseModel):
    """Current weather for a city."""

    city: str = Field(max_length=24)


def test_streamed_tool_call_assembled_by_sdk(client: openai.OpenAI) -> None:
    """`tool_choice: required` on the real tiny model: the server constrains the answer to a
    call and streams it as tool-call deltas, which the SDK's own assembler puts together."""
    tools = [openai.pydantic_function_tool(GetWeather, name="get_weather")]
    with client.chat.completions.stream(model="local:tiny", max_tokens=48, temperature=0, tools=tools,
                                        tool_choice="required",
                                        messages=[{"role": "user", "content": "What is the weather in Oslo?"}]
                                        ) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_") and call.type == "function" and call.function.name == "get_weather"
    assert isinstance(call.function.parsed_arguments, GetWeather)
    assert json.loads(call.function.arguments) == call.function.parsed_arguments.model_dump()
    # Name first, then the arguments in several fragments as the model wrote them.
    pieces = [e.arguments_delta for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert len([p for p in pieces if p]) >= 2 and "".join(pieces) == call.function.arguments
    assert not any(e.type == "content.delta" and e.delta for e in events)


def test_forced_tool_call_not_streamed(client: openai.OpenAI) -> None:
    tools = [openai.pydantic_function_tool(GetWeather, name="get_weather")]
    r = client.chat.completions.create(model="local:tiny", max_tokens=48, temperature=0, tools=tools,
                                       tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                       messages=[{"role": "user", "content": "Is it raining in Lima?"}])
    assert r.choices[0].finish_reason == "tool_calls"
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and set(json.loads(call.function.arguments)) == {"city"}


def test_backend_error_is_openai_shaped(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="local:tiny", messages=[], max_tokens=4)
