"""Tool calls: spec-shaped stream deltas, and forced calls by JSON schema.

OpenAI streams a tool call as `delta.tool_calls` entries keyed by `index`: the first
entry of a call carries `id`, `type` and `function.name` (with empty `arguments`),
later entries carry only argument fragments. Clients concatenate strings per index
(the SDK appends `id` and `name` too), so each of those must be sent once.

Backends that stream tool calls (vLLM, llama.cpp with a tool-aware chat template)
already send such deltas; `normalize_calls` only fills in a missing `index` or
`type` and drops anything else. A backend that sends a whole call in one piece gives
one delta with the whole call, which is still well-formed.

Small in-process models often cannot call tools at all: llama.cpp leaves `tools` out
of the prompt when the model's chat template has no tool support (SmolLM2), and
does not enforce `tool_choice: "required"`. When a request forces a call
(`tool_choice` is `"required"` or names a function), the server can instead
describe the tools in a system message and constrain the answer with a JSON schema
to `{"name": ..., "arguments": {...}}` (`schema_request`); `CallStream` turns the
streamed JSON text into tool-call deltas as it arrives: the name as soon as it is
complete, then the arguments fragment by fragment.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from bimo.errors import BackendError
from bimo.llm.base import Backend, parse_json
from bimo.llm.uri import ModelURI
from bimo.serve.errors import ApiError

#: request fields that only mean something to a backend doing tools itself
_TOOL_KEYS = ("tools", "tool_choice", "parallel_tool_calls", "response_format")


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def normalize_calls(calls: list[Any]) -> list[dict[str, Any]]:
    """Tool-call deltas as the spec has them: each with an `index`, nothing unknown."""
    out = []
    for pos, tc in enumerate(calls):
        if not isinstance(tc, dict):
            continue
        entry: dict[str, Any] = {"index": int(tc.get("index", pos))}
        if tc.get("id"):
            entry["id"] = tc["id"]
        if tc.get("type") or tc.get("id"):
            entry["type"] = tc.get("type") or "function"
        fn = tc.get("function")
        if isinstance(fn, dict):
            f: dict[str, Any] = {}
            if fn.get("name"):
                f["name"] = fn["name"]
            args = fn.get("arguments")
            if args is not None:
                f["arguments"] = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            entry["function"] = f
        out.append(entry)
    return out


def _functions(req: dict[str, Any]) -> list[dict[str, Any]]:
    return [t["function"] for t in req.get("tools") or []
            if isinstance(t, dict) and t.get("type", "function") == "function"
            and isinstance(t.get("function"), dict) and t["function"].get("name")]


def forced_tools(req: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The functions a request forces a call to, or None when the model may answer in text."""
    funcs = _functions(req)
    choice = req.get("tool_choice")
    if not funcs or choice in (None, "auto", "none"):
        return None
    if choice == "required":
        return funcs
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        picked = [f for f in funcs if f["name"] == name]
        if not picked:
            raise ApiError(400, f"tool_choice names the function {name!r}, which is not in tools",
                           "invalid_tool_choice")
        return picked
    raise ApiError(400, f"tool_choice must be 'none', 'auto', 'required' or a function, got {choice!r}",
                   "invalid_tool_choice")


def schema_tools(mode: str, backend: Backend, req: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The functions to force by JSON schema, or None to pass the request to the backend."""
    if mode == "native":
        return None
    funcs = forced_tools(req)
    if funcs is None:
        return None
    uri = ModelURI.known(backend.uri or "")
    if mode == "schema" or (uri is not None and uri.is_local):  # in-process models get schema-forced calls
        return funcs
    return None


def call_schema(funcs: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"name": ..., "arguments": ...}` for one of the functions; `name` comes first so a
    stream can announce the call before its arguments."""
    variants = [{"type": "object",
                 "properties": {"name": {"type": "string", "enum": [f["name"]]},
                                "arguments": f.get("parameters") or {"type": "object"}},
                 "required": ["name", "arguments"], "additionalProperties": False} for f in funcs]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _instruction(funcs: list[dict[str, Any]]) -> str:
    lines = ["You must call one of these functions. Answer with only a JSON object "
             '{"name": <function name>, "arguments": <arguments object>}.', "", "Functions:"]
    for f in funcs:
        desc = f" - {f['description']}" if f.get("description") else ""
        params = json.dumps(f.get("parameters") or {"type": "object"}, ensure_ascii=False)
        lines.append(f"- {f['name']}{desc}; arguments schema: {params}")
    return "\n".join(lines)


def _plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier tool calls and results as plain text, for chat templates that know no tools."""
    names: dict[str, str] = {}
    out = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for tc in m["tool_calls"]:
                fn = tc.get("function") or {}
                names[str(tc.get("id"))] = fn.get("name", "")
                args = fn.get("arguments")
                try:
                    args = json.loads(args) if isinstance(args, str) else args
                except json.JSONDecodeError:
                    pass
                calls.append(json.dumps({"name": fn.get("name"), "arguments": args}, ensure_ascii=False))
            out.append({"role": "assistant", "content": "\n".join(filter(None, [content, *calls]))})
        elif role == "tool":
            name = names.get(str(m.get("tool_call_id")), "") or "the function"
            out.append({"role": "user", "content": f"Result of {name}: {content}"})
        else:
            out.append({k: v for k, v in m.items() if k in ("role", "content", "name")} | {"content": content or ""})
    return out


def schema_request(req: dict[str, Any], funcs: list[dict[str, Any]]) -> dict[str, Any]:
    """The request rewritten so the answer can only be a call to one of `funcs`."""
    out = {k: v for k, v in req.items() if k not in _TOOL_KEYS}
    messages = _plain_messages(req["messages"])
    note = _instruction(funcs)
    if messages and messages[0]["role"] == "system" and isinstance(messages[0]["content"], str):
        messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{note}"}
    else:
        messages.insert(0, {"role": "system", "content": note})
    out["messages"] = messages
    out["response_format"] = {"type": "json_schema",
                              "json_schema": {"name": "tool_call", "strict": True, "schema": call_schema(funcs)}}
    return out


def schema_response(raw: dict[str, Any], text: str, finish: str) -> dict[str, Any]:
    """A whole (non-streamed) constrained answer as an OpenAI response with `tool_calls`."""
    try:
        data = parse_json(text)
        name, args = data["name"], data["arguments"]
    except (BackendError, KeyError, TypeError):
        message: dict[str, Any] = {"role": "assistant", "content": text}  # cut short: say what came
    else:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": new_call_id(), "type": "function",
             "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}]}
        finish = "tool_calls"
    out = {k: v for k, v in raw.items() if k not in ("choices", "timings")}
    out["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
    return out


_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*')


class CallStream:
    """Streamed text of `{"name": ..., "arguments": {...}}` in, tool-call deltas out."""

    def __init__(self) -> None:
        self.id = new_call_id()
        self.text = ""
        self.started = False  # the name has been sent
        self.closed = False  # the arguments object is complete
        self._pos = 0
        self._depth = 0
        self._in_str = False
        self._esc = False
        self._sent_args = False

    def feed(self, text: str) -> list[dict[str, Any]]:
        self.text += text
        out: list[dict[str, Any]] = []
        if not self.started:
            m = _HEAD.match(self.text)
            if m is None:
                return out
            self.started = True
            self._pos = m.end()
            out.append({"index": 0, "id": self.id, "type": "function",
                        "function": {"name": json.loads(f'"{m.group(1)}"'), "arguments": ""}})
        args = self._scan()
        if args and out:  # name and arguments in one piece: one entry, not two for index 0
            out[0]["function"]["arguments"] = args
        elif args:
            out.append({"index": 0, "function": {"arguments": args}})
        return out

    def _scan(self) -> str:
        """The new part of the arguments, stopping where their object closes."""
        piece = []
        for ch in self.text[self._pos:]:
            if self.closed:
                break
            if not self._sent_args and not piece and ch.isspace():
                continue
            piece.append(ch)
            if self._in_str:
                if self._esc:
                    self._esc = False
                elif ch == "\\":
                    self._esc = True
                elif ch == '"':
                    self._in_str = False
            elif ch == '"':
                self._in_str = True
            elif ch in "{[":
                self._depth += 1
            elif ch in "}]":
                self._depth -= 1
                if self._depth <= 0:
                    self.closed = True
        self._pos = len(self.text)
        if piece:
            self._sent_args = True
        return "".join(piece)

    def leftover(self) -> list[dict[str, Any]]:
        """At the end: a call the head pattern missed (odd spacing) sent whole, if it parses."""
        if self.started:
            return []
        try:
            data = parse_json(self.text)
            name, args = data["name"], data["arguments"]
        except (BackendError, KeyError, TypeError):
            return []
        self.started = self.closed = True
        return [{"index": 0, "id": self.id, "type": "function",
                 "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}]
