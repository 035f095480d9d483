"""`/v1/chat/completions` and `/v1/models`: the OpenAI wire format over any bimo backend.

The request dict goes to the backend unchanged apart from the fields that change
nothing in the answer (`model`, `stream`, `user`, `metadata`...), so tools,
`response_format` (JSON schema) and sampling options reach llama.cpp or the upstream
server as the client sent them. What would change the answer without being honoured
(`n` > 1, log probabilities, an unknown `response_format` type, `max_tokens` beyond
the context) is a 400 naming the field, never a silently different answer. Streams are
Server-Sent Events of `chat.completion.chunk` objects ending in `data: [DONE]`:
text as `delta.content`, tool calls as `delta.tool_calls` entries with an `index`
(id, type and name first, then argument fragments), as the backend streams them.
A request that forces a tool call may instead be answered by a JSON-schema
constrained call (see `bimo.serve.toolcalls`), streamed the same way.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from bimo.serve.errors import ApiError, error_body, status_for
from bimo.serve.state import ServerState
from bimo.serve.toolcalls import CallStream, normalize_calls, schema_request, schema_response, schema_tools

router = APIRouter()
#: not forwarded: the served model is fixed, streaming is ours to do, and the rest
#: change nothing in the answer (OpenAI's API and llama.cpp's server accept them too)
_DROP = ("model", "stream", "stream_options", "user", "metadata", "store", "service_tier", "prediction_id")
#: `response_format` types the backends honour
RESPONSE_FORMATS = ("text", "json_object", "json_schema")


class ChatRequest(BaseModel):
    """Checked fields; anything else (tools, response_format, seed...) passes through."""

    model_config = ConfigDict(extra="allow")
    messages: list[dict[str, Any]] = Field(min_length=1)
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    n: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0)
    response_format: dict[str, Any] | None = None


def check_request(state: ServerState, body: ChatRequest) -> None:
    """400 for what the server would otherwise not honour in a way that changes the answer."""
    if body.n is not None and body.n > 1:
        raise ApiError(400, f"n: only one choice per request is served (got n={body.n}); "
                       "send the request n times instead", "unsupported_parameter", "n")
    if body.logprobs or body.top_logprobs:
        field = "logprobs" if body.logprobs else "top_logprobs"
        raise ApiError(400, f"{field}: log probabilities are not returned by this server", "unsupported_parameter",
                       field)
    if body.response_format is not None:
        kind = body.response_format.get("type")
        if kind not in RESPONSE_FORMATS:
            raise ApiError(400, f"response_format.type: {kind!r} is not supported; use one of "
                           f"{', '.join(RESPONSE_FORMATS)}", "unsupported_parameter", "response_format")
    n_ctx = getattr(state.backend, "n_ctx", None)
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(body, name)
        if n_ctx and value is not None and value > n_ctx:
            raise ApiError(400, f"{name}: {value} is more than the model's context of {n_ctx} tokens",
                           "context_length_exceeded", name)


def prompt_chars(messages: list[dict[str, Any]]) -> int:
    n = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            n += len(content)
        elif isinstance(content, list):
            n += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return n


def check_prompt(state: ServerState, chars: int) -> None:
    limit = state.config.max_prompt_chars
    if chars > limit:
        raise ApiError(400, f"prompt too long: {chars} characters; the limit is {limit}", "prompt_too_long")


@router.get("/v1/models")
async def list_models(request: Request) -> dict:
    state: ServerState = request.app.state.bimo
    return {"object": "list", "data": [{"id": state.model_name, "object": "model", "created": state.started,
                                        "owned_by": "bimo"}]}


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatRequest, request: Request):
    state: ServerState = request.app.state.bimo
    check_prompt(state, prompt_chars(body.messages))
    check_request(state, body)
    req = {k: v for k, v in body.model_dump(exclude_none=True).items() if k not in _DROP}
    if "max_completion_tokens" in req:  # OpenAI's newer name; backends know max_tokens
        req.setdefault("max_tokens", req.pop("max_completion_tokens"))
    for name, neutral in (("n", 1), ("logprobs", False), ("top_logprobs", 0)):
        if name in req and req[name] == neutral:  # the default said out loud: nothing to pass on
            del req[name]
    funcs = schema_tools(state.config.tool_calls, state.backend, req)
    if funcs is not None:
        req = schema_request(req, funcs)
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not body.stream:
        comp = await state.slots.complete(req)
        raw = schema_response(comp.raw, comp.text, comp.finish_reason) if funcs is not None else comp.raw
        return JSONResponse(_response(raw, cid, created, state.model_name))
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    gen = _stream(state, req, cid, created, include_usage, forced=funcs is not None)
    return EventSourceResponse(gen, ping=15, send_timeout=60)


def _response(raw: dict[str, Any], cid: str, created: int, model: str) -> dict[str, Any]:
    def finished(choice: dict[str, Any]) -> dict[str, Any]:
        if (choice.get("message") or {}).get("tool_calls") and choice.get("finish_reason") in (None, "stop"):
            return {**choice, "finish_reason": "tool_calls"}  # what the spec says a call ends with
        return choice

    return {"id": cid, "created": created, **raw, "object": "chat.completion", "model": model,
            "choices": [finished(c) for c in raw.get("choices") or []]}


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, **extra: Any) -> str:
    return json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra},
                      ensure_ascii=False)


async def _deltas(state: ServerState, req: dict, done: dict[str, Any]) -> AsyncIterator[dict]:
    """The backend's stream as spec-shaped deltas: text, and tool calls with their index."""
    async for chunk in state.slots.stream_chunks(req, on_done=lambda c: done.update(c=c)):
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            out: dict[str, Any] = {}
            if delta.get("content"):
                out["content"] = delta["content"]
            if delta.get("tool_calls"):
                out["tool_calls"] = normalize_calls(delta["tool_calls"])
                done["calls"] = True
            if out:
                yield out


async def _forced_deltas(state: ServerState, req: dict, done: dict[str, Any]) -> AsyncIterator[dict]:
    """A schema-constrained answer turned into one streamed tool call."""
    call = CallStream()
    async for delta in _deltas(state, req, done):
        if delta.get("content"):
            calls = call.feed(delta["content"])
            if calls:
                yield {"tool_calls": calls}
    calls = call.leftover()
    if calls:
        yield {"tool_calls": calls}
    if call.closed:
        done["calls"] = True
    elif not call.started and call.text:  # not a call after all (cut short): show the text
        yield {"content": call.text}


async def _stream(state: ServerState, req: dict, cid: str, created: int, include_usage: bool,
                  forced: bool) -> AsyncIterator[dict]:
    model = state.model_name
    done: dict[str, Any] = {}
    try:
        # A forced call has no text: content null, as OpenAI sends it for tool calls.
        yield {"data": _chunk(cid, created, model, {"role": "assistant", "content": None if forced else ""})}
        source = _forced_deltas(state, req, done) if forced else _deltas(state, req, done)
        async for delta in source:
            yield {"data": _chunk(cid, created, model, delta)}
        comp = done.get("c")
        finish = comp.finish_reason if comp else "stop"
        # The spec's finish for an answer that is a call; "length" (cut short) stays.
        if done.get("calls") and finish in ("stop", "tool_calls"):
            finish = "tool_calls"
        elif finish == "tool_calls":
            finish = "stop"
        yield {"data": _chunk(cid, created, model, {}, finish)}
        if include_usage and comp is not None:
            usage = {"prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens,
                     "total_tokens": comp.prompt_tokens + comp.completion_tokens}
            yield {"data": json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                       "model": model, "choices": [], "usage": usage})}
    except Exception as exc:  # headers are sent: report in-band, as OpenAI does
        _, code, message = status_for(exc)
        yield {"data": json.dumps(error_body(message, code, "server_error"))}
    yield {"data": "[DONE]"}
