"""Queue requests onto the backend's slots and bridge its blocking calls to asyncio.

Backends block (llama.cpp runs in-process, HTTP backends wait on sockets), so every
call runs in a thread. An asyncio semaphore sized to `backend.parallel` makes extra
requests wait their turn in the event loop instead of piling threads onto the
backend. A streamed answer is pumped from its worker thread into an asyncio queue;
when the consumer goes away (client disconnect cancels the generator) the backend
stream is closed, which stops generation and frees the slot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from bimo.llm.base import Backend, Completion, Stream

T = TypeVar("T")


class SlotPool:
    """One per backend: `async with pool.slot(): ...` waits for a free slot."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.size = max(1, int(getattr(backend, "parallel", 1) or 1))
        self._sem = asyncio.Semaphore(self.size)
        self.waiting = 0
        self.active = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._sem.release()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking backend call in a thread, inside a slot."""
        async with self.slot():
            return await asyncio.to_thread(fn, *args)

    async def complete(self, request: dict[str, Any]) -> Completion:
        return await self.call(self.backend.complete_request, request)

    async def stream(self, request: dict[str, Any], on_done: Callable[[Completion | None], None] | None = None
                     ) -> AsyncIterator[str]:
        """Text deltas of a streamed answer; closing the iterator early stops generation."""
        async with self.slot():
            stream = await asyncio.to_thread(self.backend.stream_request, request)
            async for delta in iterate(stream):
                yield delta
            if on_done is not None:
                on_done(stream.completion)


async def iterate(stream: Stream) -> AsyncIterator[str]:
    """Deltas of a backend Stream without blocking the loop; closes it on early exit.

    The worker thread appends to a list and wakes the loop only when the list was
    empty, so a burst of tokens costs one loop wake-up, not one per token.
    """
    loop = asyncio.get_running_loop()
    pending: list[tuple[str, Any]] = []
    lock = threading.Lock()
    ready = asyncio.Event()
    finished = threading.Event()

    def put(item: tuple[str, Any]) -> None:
        with lock:
            pending.append(item)
            wake = len(pending) == 1
        if wake:
            try:
                loop.call_soon_threadsafe(ready.set)
            except RuntimeError:  # loop already closed (server shutting down)
                stream.close()

    def pump() -> None:
        try:
            for delta in stream:
                put(("delta", delta))
        except BaseException as exc:  # re-raised in the consumer
            put(("error", exc))
        finally:
            finished.set()
            put(("end", None))

    threading.Thread(target=pump, daemon=True, name="bimo-stream").start()
    try:
        while True:
            await ready.wait()
            with lock:
                batch = pending[:]
                pending.clear()
                ready.clear()
            for kind, item in batch:
                if kind == "delta":
                    yield item
                elif kind == "error":
                    raise item
                else:
                    return
    finally:
        if not finished.is_set():
            stream.close()
            # Hold the slot until the backend has really stopped, so the next request
            # does not oversubscribe it; bounded so shutdown never hangs.
            await asyncio.to_thread(finished.wait, 10.0)
