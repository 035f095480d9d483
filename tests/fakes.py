"""The one scripted backend of the test suite: a real `Backend` subclass.

Calls go through `Backend.chat`/`stream` as in production, so `GenParams` validation,
request building, retries and `Completion` parsing are exercised; only the model is
replaced. The request cache is off: every call reaches `_complete`/`_stream` and is
recorded in `requests` (the OpenAI-style dicts a server would receive).

Without `answer` it writes "word0 word1 ..." (one word per streamed chunk, `delay`
seconds per word); with `answer(messages, seed)` it returns that text (a dict is sent as
JSON) after `delay` seconds. A request with `tools` gets a call to the first tool, streamed in argument
fragments as vLLM and llama.cpp send them (or whole, when `whole_calls`). With
`logprobs(messages)` -> {token: log-probability}, a request asking for `logprobs` gets them
for its first token, in OpenAI's shape.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bimo.llm.base import Backend, Message

#: the argument fragments of a streamed call to the first tool
CALL_ARGS = ['{"ci', 'ty": "Pa', 'ris, \\"FR\\"', '"}']

Answer = Callable[[list[Message], int | None], "str | dict"]


class ScriptedBackend(Backend):
    """Scripted answers with the real backend plumbing; counts concurrency and stops."""

    def __init__(self, answer: Answer | None = None, *, words: int = 8, delay: float = 0.0, parallel: int = 2,
                 whole_calls: bool = False, uri: str = "test:scripted",
                 logprobs: Callable[[list[Message]], dict[str, float]] | None = None):
        super().__init__()
        self.cache = None
        self.uri = uri
        self.answer = answer
        self.words, self.delay, self.parallel = words, delay, parallel
        self.whole_calls = whole_calls
        self.logprobs = logprobs
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.running = 0  #: requests in progress now
        self.peak = 0  #: most requests ever in progress at once
        self.stopped = 0  #: streams the caller stopped early
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def text(self, request: dict[str, Any]) -> str:
        """The scripted answer to one request."""
        if self.answer is not None:
            out = self.answer(request["messages"], request.get("seed"))
            return json.dumps(out, ensure_ascii=False) if isinstance(out, dict) else out
        if request.get("response_format"):
            return json.dumps({"name": "Li", "age": 3})
        return " ".join(f"word{i}" for i in range(self.words))

    def _enter(self, request: dict) -> None:
        with self.lock:
            self.requests.append(request)
            self.running += 1
            self.peak = max(self.peak, self.running)

    def _leave(self) -> None:
        with self.lock:
            self.running -= 1

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        self._enter(request)
        try:
            time.sleep(self.delay if self.answer is not None else self.delay * self.words)
            msg: dict[str, Any] = {"role": "assistant", "content": self.text(request)}
            if request.get("tools"):
                name = request["tools"][0]["function"]["name"]
                msg = {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": name, "arguments": "{}"}}]}
            choice: dict[str, Any] = {"index": 0, "message": msg, "finish_reason": "stop"}
            if request.get("logprobs") and self.logprobs is not None:
                top = sorted(self.logprobs(request["messages"]).items(), key=lambda kv: -kv[1])
                top = [{"token": t, "logprob": lp} for t, lp in top[: request.get("top_logprobs") or 1]]
                choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
            return {"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": self.words}}
        finally:
            self._leave()

    def _stream(self, request: dict[str, Any], on_chunk: Callable[[dict], bool]) -> None:
        self._enter(request)
        try:
            if request.get("tools"):
                self._stream_call(request["tools"][0]["function"]["name"], on_chunk)
                return
            for i, word in enumerate(self.text(request).split(" ")):
                time.sleep(self.delay)
                if on_chunk({"choices": [{"index": 0, "delta": {"content": word if i == 0 else " " + word}}]}):
                    with self.lock:
                        self.stopped += 1
                    return
            on_chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        finally:
            self._leave()

    def _stream_call(self, name: str, on_chunk: Callable[[dict], bool]) -> None:
        def send(delta: dict, finish: str | None = None) -> None:
            time.sleep(self.delay)
            on_chunk({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        send({"role": "assistant", "content": None})
        if self.whole_calls:  # no index, arguments as an object: a backend that only has the final call
            send({"tool_calls": [{"id": "call_1", "type": "function",
                                  "function": {"name": name, "arguments": json.loads("".join(CALL_ARGS))}}]})
        else:
            send({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                  "function": {"name": name, "arguments": ""}}]})
            for piece in CALL_ARGS:
                send({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        send({}, "tool_calls")


def last_user(messages: list[Message]) -> str:
    """The text of the last message (the prompt a step or judge sent)."""
    return messages[-1]["content"]


def stub_job(backend: Backend, prompt: str, length: int | None, run_dir: Path,
                on_event: Callable[[dict], None], sections: int = 6, pause: float = 0.4) -> tuple[str, int]:
    """A resumable long-form writer with the real writer's event shapes: one checkpoint file
    per section; `calls.log` records every section written."""
    titles = [f"Part {i + 1}" for i in range(sections)]
    on_event({"type": "plan", "plan": {"title": prompt[:40], "sections": [{"title": t} for t in titles]}})
    texts = []
    for i in range(sections):
        path = run_dir / f"section_{i}.txt"
        if not path.exists():
            time.sleep(pause)
            with open(run_dir / "calls.log", "a") as fh:
                fh.write(f"{i}\n")
            path.write_text(f"## {titles[i]}\n\nText of part {i + 1}.")
        texts.append(path.read_text())
        on_event({"type": "section", "index": i, "text": texts[-1], "length": len(texts[-1])})
        total = sum(len(t) for t in texts)
        on_event({"type": "progress", "done": i + 1, "total": sections, "length": total, "target": length or 0})
    text = "\n\n".join(texts)
    on_event({"type": "done", "text": text})
    return text, len(text)
