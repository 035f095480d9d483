"""`/v1/chat/completions` and `/v1/models`: the OpenAI wire format over any bimo backend.

The request dict goes to the backend unchanged apart from `model`/`stream`/
`stream_options`, so tools, `response_format` (JSON schema) and sampling options
reach llama.cpp or the upstream server as the client sent them. Streams are
Server-Sent Events of `chat.completion.chunk` objects ending in `data: [DONE]`.
With `tools`, the answer may be a tool call, which the text-delta stream cannot
carry; it is then computed whole and sent as one chunk.
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

router = APIRouter()
#: not forwarded: the served model is fixed, streaming is ours to do
_DROP = ("model", "stream", "stream_options", "user")


class ChatRequest(BaseModel):
    """Checked fields; anything else (tools, response_format, seed...) passes through."""

    model_config = ConfigDict(extra="allow")
    messages: list[dict[str, Any]] = Field(min_length=1)
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)


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
    req = {k: v for k, v in body.model_dump(exclude_none=True).items() if k not in _DROP}
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not body.stream:
        comp = await state.slots.complete(req)
        return JSONResponse(_response(comp.raw, cid, created, state.model_name))
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    gen = _tool_stream(state, req, cid, created) if req.get("tools") else _text_stream(
        state, req, cid, created, include_usage)
    return EventSourceResponse(gen, ping=15, send_timeout=60)


def _response(raw: dict[str, Any], cid: str, created: int, model: str) -> dict[str, Any]:
    out = dict(raw)
    out.setdefault("id", cid)
    out["object"] = "chat.completion"
    out.setdefault("created", created)
    out["model"] = model
    return out


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None, **extra: Any) -> str:
    return json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra},
                      ensure_ascii=False)


async def _text_stream(state: ServerState, req: dict, cid: str, created: int,
                       include_usage: bool) -> AsyncIterator[dict]:
    model = state.model_name
    done: dict[str, Any] = {}
    try:
        yield {"data": _chunk(cid, created, model, {"role": "assistant", "content": ""})}
        async for delta in state.slots.stream(req, on_done=lambda c: done.update(c=c)):
            yield {"data": _chunk(cid, created, model, {"content": delta})}
        comp = done.get("c")
        yield {"data": _chunk(cid, created, model, {}, comp.finish_reason if comp else "stop")}
        if include_usage and comp is not None:
            usage = {"prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens,
                     "total_tokens": comp.prompt_tokens + comp.completion_tokens}
            yield {"data": json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                       "model": model, "choices": [], "usage": usage})}
    except Exception as exc:  # headers are sent: report in-band, as OpenAI does
        _, code, message = status_for(exc)
        yield {"data": json.dumps(error_body(message, code, "server_error"))}
    yield {"data": "[DONE]"}


async def _tool_stream(state: ServerState, req: dict, cid: str, created: int) -> AsyncIterator[dict]:
    model = state.model_name
    try:
        comp = await state.slots.complete(req)
        choice = (comp.raw.get("choices") or [{}])[0]
        msg = choice.get("message") or {}
        delta: dict[str, Any] = {"role": "assistant", "content": msg.get("content")}
        if msg.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **tc} for i, tc in enumerate(msg["tool_calls"])]
        yield {"data": _chunk(cid, created, model, delta, choice.get("finish_reason") or "stop")}
    except Exception as exc:
        _, code, message = status_for(exc)
        yield {"data": json.dumps(error_body(message, code, "server_error"))}
    yield {"data": "[DONE]"}
