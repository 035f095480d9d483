"""The one chat interface every backend implements.

A backend speaks OpenAI-style request dicts (`messages`, `max_tokens`, `stop`,
`response_format`, `tools`...) and returns OpenAI-style response dicts. Everything
else — caching, retries, JSON-schema parsing, streaming as an iterator — lives here
once, so `local:`, `gguf:`, `openai:` and `hf:` behave the same.

Subclasses implement two methods:
  `_complete(request) -> response dict`
  `_stream(request, on_chunk) -> None`, calling `on_chunk(chunk_dict)`; when
  `on_chunk` returns True the backend stops generating (client went away).
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from bimo.errors import BackendError, BimoError, ContextOverflow

Message = dict[str, Any]


class GenParams(BaseModel):
    """Sampling and output settings shared by all backends."""

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=1)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    #: llama.cpp-style repetition penalty; sent only when set (OpenAI servers may reject it)
    repeat_penalty: float | None = Field(None, ge=0.5, le=2.0)
    #: llama.cpp's DRY ("don't repeat yourself") sampler: penalises extending a token run that
    #: already occurred in the context (prompt included). Sent only when set, and only backends
    #: with `Backend.supports_dry` honour it (the embedded llama.cpp; llama.cpp servers).
    dry_multiplier: float | None = Field(None, ge=0.0, le=5.0)
    dry_base: float = Field(1.75, ge=1.0, le=4.0)
    dry_allowed_length: int = Field(2, ge=1, le=64)
    dry_penalty_last_n: int = Field(4096, ge=0, description="tokens scanned for repeats (0 = off)")
    json_schema: dict[str, Any] | None = None
    timeout: float | None = Field(None, gt=0)
    #: ask for the log-probabilities of the N likeliest tokens at each step (OpenAI's
    #: `logprobs`/`top_logprobs`; llama.cpp, vLLM and `hf:` return them): `Completion.first_token_logprobs`
    top_logprobs: int | None = Field(None, ge=1, le=20)

    def to_request(self, messages: list[Message]) -> dict[str, Any]:
        req: dict[str, Any] = {"messages": messages, "temperature": self.temperature, "top_p": self.top_p,
                               "max_tokens": self.max_tokens}
        optional = {"stop": list(self.stop) or None, "seed": self.seed, "presence_penalty": self.presence_penalty or None,
                    "frequency_penalty": self.frequency_penalty or None, "repeat_penalty": self.repeat_penalty}
        req.update((k, v) for k, v in optional.items() if v is not None)  # only what is set
        if self.top_logprobs:
            req.update(logprobs=True, top_logprobs=self.top_logprobs)
        if self.dry_multiplier:
            req.update(dry_multiplier=self.dry_multiplier, dry_base=self.dry_base,
                       dry_allowed_length=self.dry_allowed_length, dry_penalty_last_n=self.dry_penalty_last_n)
        if self.json_schema is not None:
            req["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "strict": True, "schema": self.json_schema},
            }
        return req


@dataclass
class Completion:
    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    seconds: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        """The text parsed as JSON, or a one-line BackendError."""
        return parse_json(self.text)

    def first_token_logprobs(self) -> dict[str, float]:
        """{token text: log-probability} of the likeliest first tokens, as the backend reported
        them for a request with `top_logprobs`; empty when it reported none."""
        try:
            content = self.raw["choices"][0]["logprobs"]["content"]
            top = content[0].get("top_logprobs") or [content[0]]
        except (KeyError, IndexError, TypeError, AttributeError):
            return {}
        out: dict[str, float] = {}
        for t in top:
            if isinstance(t, dict) and isinstance(t.get("token"), str) and t.get("logprob") is not None:
                out.setdefault(t["token"], float(t["logprob"]))
        return out

    @classmethod
    def from_response(cls, resp: dict[str, Any], seconds: float = 0.0, cached: bool = False) -> Completion:
        try:
            choice = resp["choices"][0]
            msg = choice.get("message") or {}
            text = msg.get("content") or ""
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"backend returned a malformed response: {str(resp)[:200]}") from None
        usage = resp.get("usage") or {}
        return cls(
            text=text,
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached=cached,
            seconds=seconds,
            raw=resp,
        )


def parse_json(text: str) -> Any:
    """Parse model output as JSON, tolerating a Markdown code fence around it."""
    s = text.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else s[3:]
        if s.rstrip().endswith("```"):
            s = s.rstrip()[:-3]
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        start, end = s.find("{"), s.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(s[start : end + 1])
            except json.JSONDecodeError:
                pass
    raise BackendError(f"model output is not valid JSON: {text[:120]!r}")


class TransientError(Exception):
    """A failure worth retrying (connection refused, timeout, 5xx, overloaded)."""


class Stream:
    """Iterate to get text deltas; `.completion` holds the whole answer afterwards.

    Generation runs in a worker thread; `close()` (or leaving a `with` block early)
    tells the backend to stop, which frees its slot.
    """

    def __init__(self, start: Callable[[Callable[[dict], bool]], Completion]):
        self._q: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self.completion: Completion | None = None
        self._error: BaseException | None = None

        def on_chunk(chunk: dict) -> bool:
            self._q.put(("chunk", chunk))
            return self._closed.is_set()

        def run() -> None:
            try:
                self.completion = start(on_chunk)
            except BaseException as exc:  # handed to the consumer thread
                self._error = exc
            finally:
                self._q.put(("end", None))

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[str]:
        for chunk in self.chunks():
            for choice in chunk.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    yield delta

    def chunks(self) -> Iterator[dict]:
        """The raw OpenAI-style chunks (text, tool-call and finish deltas), for callers
        that need more than text; iterate either this or the Stream, not both."""
        while True:
            kind, item = self._q.get()
            if kind == "end":
                break
            yield item
        self._thread.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._closed.set()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Backend:
    """Base class: caching, retries, streaming and JSON handling around `_complete`/`_stream`."""

    uri: str = ""
    #: how many requests the backend serves at once (slots / client concurrency)
    parallel: int = 1
    #: context window per request in tokens, when known
    n_ctx: int | None = None
    #: whether requests may carry llama.cpp's DRY sampler settings (GenParams.dry_multiplier)
    supports_dry: bool = False
    max_retries: int = 3
    backoff: float = 0.5

    def __init__(self) -> None:
        from bimo.llm.cache import RequestCache

        self.cache: RequestCache | None = RequestCache.default()

    # --- to implement -------------------------------------------------------
    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _stream(self, request: dict[str, Any], on_chunk: Callable[[dict], bool]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (model memory, connections)."""

    @property
    def can_stream(self) -> bool:
        """Whether this backend streams (implements `_stream`); callers that stop a
        generation early fall back to a plain call when it does not."""
        return type(self)._stream is not Backend._stream

    # --- public API ---------------------------------------------------------
    def chat(self, messages: list[Message] | str, params: GenParams | None = None, *,
             cache: bool | None = None, **overrides: Any) -> Completion:
        """One answer to a conversation (or a single user prompt)."""
        params = _params(params, overrides)
        return self.complete_request(params.to_request(_as_messages(messages)), timeout=params.timeout, cache=cache)

    def stream(self, messages: list[Message] | str, params: GenParams | None = None, *,
               cache: bool | None = None, **overrides: Any) -> Stream:
        params = _params(params, overrides)
        return self.stream_request(params.to_request(_as_messages(messages)), timeout=params.timeout, cache=cache)

    def chat_json(self, messages: list[Message] | str, schema: dict[str, Any],
                  params: GenParams | None = None, **overrides: Any) -> Any:
        """An answer constrained to a JSON schema, parsed."""
        overrides["json_schema"] = schema
        return self.chat(messages, params, **overrides).json()

    def complete_request(self, request: dict[str, Any], *, timeout: float | None = None,
                         cache: bool | None = None) -> Completion:
        """Run an OpenAI-style request dict; cached when reproducible (seeded or greedy)."""
        use_cache, hit = self._cached(request, cache)
        if hit is not None:
            return Completion.from_response(hit, cached=True)
        t0 = time.perf_counter()
        resp = self._with_retries(lambda: self._complete_checked(request, timeout))
        comp = Completion.from_response(resp, seconds=time.perf_counter() - t0)
        if use_cache:
            self.cache.put(self.uri, request, resp)
        return comp

    def stream_request(self, request: dict[str, Any], *, timeout: float | None = None,
                       cache: bool | None = None) -> Stream:
        use_cache, hit = self._cached(request, cache)
        if hit is not None:
            comp = Completion.from_response(hit, cached=True)

            def replay(on_chunk: Callable[[dict], bool]) -> Completion:
                delta: dict[str, Any] = {"content": comp.text}
                calls = ((hit.get("choices") or [{}])[0].get("message") or {}).get("tool_calls")
                if calls:
                    delta["tool_calls"] = [{"index": i, **tc} for i, tc in enumerate(calls)]
                on_chunk({"choices": [{"index": 0, "delta": delta, "finish_reason": comp.finish_reason}]})
                return comp

            return Stream(replay)

        def start(on_chunk: Callable[[dict], bool]) -> Completion:
            t0 = time.perf_counter()
            parts: list[str] = []
            calls: dict[int, dict[str, Any]] = {}  # tool calls assembled from their deltas
            state: dict[str, Any] = {"finish": "stop", "usage": {}, "deltas": 0}
            deadline = None if timeout is None else time.monotonic() + timeout

            def collect(chunk: dict) -> bool:
                if isinstance(chunk, dict) and chunk.get("error"):
                    state["error"] = chunk["error"]
                    return True
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        parts.append(delta["content"])
                        state["deltas"] += 1
                    for i, tc in enumerate(delta.get("tool_calls") or []):
                        _merge_tool_call(calls, tc, i)
                    if choice.get("finish_reason"):
                        state["finish"] = choice["finish_reason"]
                if chunk.get("usage"):
                    state["usage"] = chunk["usage"]
                if chunk.get("timings"):
                    state["timings"] = chunk["timings"]
                stop = on_chunk(chunk)
                if stop:
                    state["abandoned"] = True
                if deadline is not None and time.monotonic() > deadline:
                    state["timed_out"] = True
                    return True
                return bool(stop)

            # Retry only while nothing has been streamed yet.
            def attempt() -> None:
                if parts or calls:
                    raise BackendError("stream broke after output had started")
                self._stream({**request, "stream": True}, collect)
                if "error" in state:
                    self._raise_error(state.pop("error"))

            self._with_retries(attempt)
            if state.get("timed_out"):
                raise BackendError(f"{self.uri}: no complete answer within {timeout:g} s (timeout)")
            timings = state.get("timings") or {}
            # A stream the caller abandoned ends without usage: each text delta is one token
            # (llama.cpp and OpenAI-style servers send one delta per token).
            usage = state["usage"] or {
                "prompt_tokens": timings.get("prompt_n", 0) + timings.get("cache_n", 0),
                "completion_tokens": timings.get("predicted_n", 0) or state["deltas"],
            }
            message: dict[str, Any] = {"role": "assistant", "content": "".join(parts)}
            if calls:
                message["content"] = message["content"] or None
                message["tool_calls"] = [calls[i] for i in sorted(calls)]
                if state["finish"] == "stop":
                    state["finish"] = "tool_calls"
            resp = {"choices": [{"index": 0, "message": message, "finish_reason": state["finish"]}], "usage": usage}
            if use_cache and state["finish"] in ("stop", "length") and not state.get("abandoned"):  # never a cut-off answer
                self.cache.put(self.uri, request, resp)
            return Completion.from_response(resp, seconds=time.perf_counter() - t0)

        return Stream(start)

    # --- helpers --------------------------------------------------------------
    def _complete_checked(self, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        resp = self._complete_with_timeout(request, timeout)
        if not isinstance(resp, dict):
            raise BackendError(f"{self.uri}: backend returned garbage: {str(resp)[:120]!r}")
        if resp.get("error"):
            self._raise_error(resp["error"])
        return resp

    def _complete_with_timeout(self, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """Default: plain `_complete`; backends without native timeouts override."""
        return self._complete(request)

    def _raise_error(self, err: Any) -> None:
        info = err if isinstance(err, dict) else {}
        msg, etype, code = info.get("message", str(err)), info.get("type", ""), info.get("code")
        if "exceed_context" in etype or "context" in msg.lower() and ("exceed" in msg.lower() or "too long" in msg.lower()):
            n_prompt, n_ctx = info.get("n_prompt_tokens"), info.get("n_ctx")
            detail = f" ({n_prompt} tokens; the limit is {n_ctx})" if n_prompt and n_ctx else f" ({msg})"
            raise ContextOverflow(f"input is longer than the context of {self.uri}{detail}", n_prompt, n_ctx)
        if isinstance(code, int) and code >= 500 or etype in ("unavailable_error", "server_error"):
            raise TransientError(f"{self.uri}: {msg}")
        raise BackendError(f"{self.uri}: {msg}")

    def _with_retries(self, fn: Callable[[], Any]) -> Any:
        delay = self.backoff
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except TransientError as exc:
                if attempt == self.max_retries:
                    raise BackendError(f"{exc} (gave up after {self.max_retries + 1} attempts)") from None
                time.sleep(delay * (1 + random.random() * 0.25))
                delay *= 2
        raise AssertionError("unreachable")

    def _cached(self, request: dict[str, Any], cache: bool | None) -> tuple[bool, dict[str, Any] | None]:
        """Whether the answer to `request` is cached (`cache`, else when reproducible: seeded
        or greedy), and the stored answer when there is one."""
        if self.cache is None or cache is False:
            return False, None
        if cache is None and request.get("seed") is None and request.get("temperature", 1.0) != 0:
            return False, None
        return True, self.cache.get(self.uri, request)

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri}>"


def _merge_tool_call(calls: dict[int, dict[str, Any]], delta: dict[str, Any], position: int) -> None:
    """Fold one streamed tool-call delta into the call it belongs to (by `index`):
    id and type are set once, name and argument fragments are appended."""
    call = calls.setdefault(int(delta.get("index", position)),
                            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    if delta.get("id") and not call["id"]:
        call["id"] = delta["id"]
    if delta.get("type"):
        call["type"] = delta["type"]
    fn = delta.get("function") or {}
    call["function"]["name"] += fn.get("name") or ""
    args = fn.get("arguments")
    call["function"]["arguments"] += args if isinstance(args, str) else json.dumps(args) if args else ""


def _as_messages(messages: list[Message] | str) -> list[Message]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return messages


def _params(params: GenParams | None, overrides: dict[str, Any]) -> GenParams:
    base = params or GenParams()
    if not overrides:
        return base
    try:
        return base.model_copy(update=overrides) if not _needs_validation(overrides) else GenParams(**{**base.model_dump(), **overrides})
    except Exception as exc:  # pydantic ValidationError
        raise BimoError(f"bad generation settings: {str(exc).splitlines()[0]}") from None


def _needs_validation(overrides: dict[str, Any]) -> bool:
    return any(k in overrides for k in ("temperature", "top_p", "max_tokens", "timeout"))
