"""Natively streamed tool calls end to end: llama.cpp's own OpenAI server parses the tiny
model's `<tool_call>` output (a tool-aware chat template makes it do so) and streams
`delta.tool_calls`; `bimo serve --model openai:...` passes them through its `/v1`, and the
real OpenAI SDK assembles the call. Nothing here is scripted: the call is what the model
wrote, steered only by a few earlier calls in the conversation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from serve_util import bimo_serve_process

# Qwen2.5-Instruct's chat template (Apache-2.0, as shipped in its GGUF files): tools described in
# the system turn, calls written as <tool_call>{json}</tool_call>. llama.cpp recognises the format
# from the template and turns such output into tool-call deltas. SmolLM2 uses the same
# <|im_start|> turn markers, so the tiny model reads it.
TOOL_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _conversation(city: str) -> list[dict]:
    msgs: list[dict] = []
    for i, c in enumerate(["Paris", "Rome", "Oslo"]):
        msgs += [{"role": "user", "content": f"Weather in {c}?"},
                 {"role": "assistant", "content": "", "tool_calls": [{
                     "id": f"call_{i}", "type": "function",
                     "function": {"name": "get_weather", "arguments": json.dumps({"city": c})}}]}]
    return msgs + [{"role": "user", "content": f"Weather in {city}?"}]


@pytest.fixture(scope="module")
def llama_tool_server(tiny_path: Path) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server (xllamacpp) for the tiny model with the tool template."""
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = str(tiny_path)
    p.n_ctx, p.n_parallel, p.warmup, p.verbosity = 2048, 1, False, -1
    p.use_jinja, p.chat_template = True, TOOL_TEMPLATE
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 1
    p.hostnames = ["127.0.0.1"]
    server = xllamacpp.Server(p)
    yield str(server.listening_address)
    del server


@pytest.fixture(scope="module")
def bimo_over_llama(llama_tool_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with bimo_serve_process("--model", f"openai:{llama_tool_server}/v1#tiny",
                            "--data-dir", str(tmp_path_factory.mktemp("native-tools"))) as base:
        yield base


def test_llama_cpp_streams_the_call_itself(llama_tool_server: str) -> None:
    """The reference: llama.cpp alone streams the model's call as tool-call deltas."""
    client = openai.OpenAI(base_url=f"{llama_tool_server}/v1", api_key="unused", max_retries=0, timeout=120)
    chunks = list(client.chat.completions.create(model="tiny", messages=_conversation("Lima"), tools=TOOLS,
                                                 temperature=0, max_tokens=60, stream=True))
    pieces = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(pieces) > 2  # the arguments arrive in fragments, not in one piece
    assert pieces[0].function.name == "get_weather"


def test_bimo_passes_natively_streamed_calls_through(bimo_over_llama: str) -> None:
    client = openai.OpenAI(base_url=f"{bimo_over_llama}/v1", api_key="unused", max_retries=0, timeout=120)
    with client.chat.completions.stream(model="tiny", messages=_conversation("Lima"), tools=TOOLS,
                                        temperature=0, max_tokens=60) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    fragments = [e for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert len(fragments) > 2  # streamed as the server streamed them, not gathered into one
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather" and call.id and call.type == "function"
    assert json.loads(call.function.arguments) == {"city": "Lima"}
    assert not choice.message.content
