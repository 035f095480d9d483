"""A deterministic in-process backend for exact accounting tests (real backends are tested too)."""

from __future__ import annotations

import json
import time
from typing import Any

from bimo.llm.base import Backend


class ScriptedBackend(Backend):
    """Answers by a function of the last user message and the seed; optional delay."""

    def __init__(self, answer, delay: float = 0.0, parallel: int = 4):
        super().__init__()
        self.cache = None  # every call reaches `_complete`
        self.uri = "test:scripted"
        self.parallel = parallel
        self.answer = answer
        self.delay = delay
        self.calls = 0

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        text = self.answer(request["messages"][-1]["content"], request.get("seed"))
        if isinstance(text, dict):
            text = json.dumps(text, ensure_ascii=False)
        return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
