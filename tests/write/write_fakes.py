"""A backend that answers by a function of the whole request, and keeps every request.

For exact accounting of what the long-form writer asks (seeds, penalties, prompts); the
writer is also tested end to end with the real tiny model."""

from __future__ import annotations

from typing import Any

from bimo.llm.base import Backend


class RequestLog(Backend):
    def __init__(self, answer, n_ctx: int = 32768):
        super().__init__()
        self.cache = None
        self.uri = "test:requests"
        self.n_ctx = n_ctx
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        text = self.answer(request)
        return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": max(1, len(text) // 2)}}
