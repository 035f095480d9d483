"""A backend that answers by a function of the whole request, and keeps every request.

For exact accounting of what the long-form writer asks (seeds, penalties, prompts); the
writer is also tested end to end with the real tiny model."""

from __future__ import annotations

import time
from typing import Any

from bimo.llm.base import Backend

# Three paragraphs of one essay (autumn, winter, spring in a grandmother's garden), for
# answers that repeat, continue or restate each other.
A = ("秋天来了，南瓜躺在田埂边晒太阳，外婆弯着腰把辣椒一串串挂在屋檐下。"
     "屋檐下的辣椒越来越红，像一串串小灯笼，风一吹就轻轻摇晃。")
B = ("冬天的菜园安静下来，只剩几垄白菜盖着薄霜，外婆说这是一年里最甜的时候。"
     "她拔起一棵白菜，抖掉上面的泥土，带回家煮了一锅热汤。")
C = "第二年春天，外婆又在菜园里撒下了新的种子，嫩绿的芽很快钻出了泥土，整个园子又热闹起来。"


def last_user(req):
    return req["messages"][-1]["content"]


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


class StreamLog(RequestLog):
    """A RequestLog that also streams: the answer (cut at `max_tokens`, two characters a
    token) goes out one token a chunk, and generation stops when the caller closes the
    stream. `sent` records how many chunks each streamed request delivered; `pace` seconds
    between chunks leave the reader time to close the stream, as a model decoding would."""

    def __init__(self, answer, n_ctx: int = 32768, pace: float = 0.01):
        super().__init__(answer, n_ctx)
        self.sent: list[int] = []
        self.pace = pace

    def _stream(self, request: dict[str, Any], on_chunk) -> None:
        self.requests.append(request)
        text = self.answer(request)[: 2 * request.get("max_tokens", 1024)]
        self.sent.append(0)
        for i in range(0, len(text), 2):
            self.sent[-1] += 1
            time.sleep(self.pace)
            if on_chunk({"choices": [{"index": 0, "delta": {"content": text[i:i + 2]}, "finish_reason": None}]}):
                return
        on_chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 1, "completion_tokens": self.sent[-1]}})
