"""Queue requests onto the backend's slots and bridge its blocking calls to asyncio.

Backends block (llama.cpp runs in-process, HTTP backends wait on sockets), so every
call runs in a thread. An asyncio semaphore sized to `backend.parallel` makes extra
requests wait their turn in the event loop instead of piling threads onto the
backend. A streamed answer is pumped from its worker thread into an asyncio queue;
when the consumer goes away (client disconnect cancels the generator) the backend
stream is closed, which stops generation and frees the slot.

Long-form jobs run in their own threads; they reach the backend through
`SlottedBackend`, whose calls wait in the same queue (`SlotPool.thread_slot`), so
jobs and API requests together never hold more than `backend.parallel` slots.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from bimo.llm.base import Backend, Completion, Stream

T = TypeVar("T")


class _Gate:
    """The semaphore and counters that pools over the same backend slots share."""

    def __init__(self, size: int):
        self.size = size
        self.sem = asyncio.Semaphore(size)
        self.waiting = 0
        self.active = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        # Used by threads only while no event loop is bound (a JobManager on its own).
        self.tsem = threading.BoundedSemaphore(size)


class SlotPool:
    """One per backend: `async with pool.slot(): ...` waits for a free slot."""

    def __init__(self, backend: Backend, *, share: SlotPool | None = None):
        self.backend = backend
        self._gate = share._gate if share is not None else _Gate(max(1, int(getattr(backend, "parallel", 1) or 1)))

    def sharing(self, backend: Backend) -> SlotPool:
        """A pool for another handle on the same slots (say `gguf:PATH` of the served `local:NAME`)."""
        return SlotPool(backend, share=self)

    @property
    def size(self) -> int:
        return self._gate.size

    @property
    def waiting(self) -> int:
        return self._gate.waiting

    @property
    def active(self) -> int:
        return self._gate.active

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let threads queue on the event loop's semaphore (call once the loop runs)."""
        self._gate.loop = loop

    async def _acquire(self) -> None:
        gate = self._gate
        gate.waiting += 1
        try:
            await gate.sem.acquire()
        finally:
            gate.waiting -= 1
        gate.active += 1

    def _release(self) -> None:
        self._gate.active -= 1
        self._gate.sem.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def thread_slot(self) -> Iterator[None]:
        """A slot for a worker thread, queued in the same line as the API requests."""
        loop = self._gate.loop
        if loop is None or loop.is_closed():
            with self._gate.tsem:
                yield
            return
        # If the server stops while this waits, the (daemon) thread waits forever and
        # dies with the process; its job stays unfinished and resumes next start.
        asyncio.run_coroutine_threadsafe(self._acquire(), loop).result()
        try:
            yield
        finally:
            try:
                loop.call_soon_threadsafe(self._release)
            except RuntimeError:  # loop closed: the server is gone, nothing to free
                pass

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

    async def stream_chunks(self, request: dict[str, Any],
                            on_done: Callable[[Completion | None], None] | None = None) -> AsyncIterator[dict]:
        """The backend's raw chunks (text and tool-call deltas), otherwise like `stream`."""
        async with self.slot():
            stream = await asyncio.to_thread(self.backend.stream_request, request)
            async for chunk in iterate(stream, raw=True):
                yield chunk
            if on_done is not None:
                on_done(stream.completion)


class SlottedBackend(Backend):
    """A backend seen through a slot pool: each call waits for a slot, from any thread.

    Only `complete_request` and `stream_request` are wrapped; `chat`, `stream` and
    `chat_json` come from `Backend` and go through them. Everything else (uri,
    n_ctx, parallel...) is the wrapped backend's.
    """

    def __init__(self, pool: SlotPool):  # no super().__init__(): the inner backend caches
        self.pool = pool
        self.inner = pool.backend
        self.cache = None
        self.uri = self.inner.uri
        self.parallel = self.inner.parallel
        self.n_ctx = self.inner.n_ctx

    @property
    def can_stream(self) -> bool:
        return self.inner.can_stream  # streams through `stream_request` when the inner one does

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "pool"):  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def complete_request(self, request: dict[str, Any], *, timeout: float | None = None,
                         cache: bool | None = None) -> Completion:
        with self.pool.thread_slot():
            return self.inner.complete_request(request, timeout=timeout, cache=cache)

    def stream_request(self, request: dict[str, Any], *, timeout: float | None = None,
                       cache: bool | None = None) -> Stream:
        pool, inner = self.pool, self.inner

        def start(on_chunk: Callable[[dict], bool]) -> Completion:
            with pool.thread_slot():
                stream = inner.stream_request(request, timeout=timeout, cache=cache)
                stopped = False
                for chunk in stream.chunks():
                    if not stopped and on_chunk(chunk):
                        stream.close()  # drain what is in flight, then free the slot
                        stopped = True
                assert stream.completion is not None
                return stream.completion

        return Stream(start)

    def close(self) -> None:
        """The wrapped backend belongs to the server, which closes it."""


async def iterate(stream: Stream, raw: bool = False) -> AsyncIterator[Any]:
    """Deltas of a backend Stream (its raw chunks with `raw`) without blocking the loop;
    closes it on early exit.

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
            for delta in stream.chunks() if raw else stream:
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
