"""In-process llama.cpp through xllamacpp: `local:NAME` and `gguf:PATH`.

xllamacpp embeds llama.cpp's own server loop, so we get its continuous batching over
several slots (concurrent requests are decoded together), prompt-prefix (KV) reuse
across calls, and JSON-schema → grammar constraints, without a separate process.
Its calls release the GIL, so threads give real concurrency.

The embedded server also listens on a loopback HTTP port; we protect it with a random
API key so nothing else on the machine can use it by accident (`http_url`/`api_key`
expose it when a caller wants an OpenAI-compatible endpoint).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bimo.errors import BimoError
from bimo.llm.base import Backend

_LOCK = threading.Lock()
_SERVERS: dict[tuple, Any] = {}


def default_threads() -> int:
    env = os.environ.get("BIMO_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _gguf_ok(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"GGUF"


def _compact_json(request: dict[str, Any]) -> dict[str, Any]:
    """A JSON-schema request as a grammar that allows no whitespace between JSON tokens.

    llama.cpp's own schema grammar lets the model indent: a 1.5B model writes pretty-printed
    JSON, and on a writing plan the newlines and spaces were half of the decoded tokens. The
    same schema through llguidance with `whitespace_flexible` off gives compact JSON, which
    parses the same."""
    fmt = request.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    if schema is None or "grammar" in request:
        return request
    compact = {**schema, "x-guidance": {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}}
    out = {k: v for k, v in request.items() if k != "response_format"}
    out["grammar"] = "%llguidance {}\nstart: %json " + json.dumps(compact, ensure_ascii=False)
    return out


class LocalBackend(Backend):
    """A GGUF model run in-process by llama.cpp."""

    supports_dry = True  # llama.cpp's server loop parses dry_* from each request

    def __init__(self, path: str | Path, *, uri: str | None = None, n_ctx: int = 8192,
                 parallel: int = 4, threads: int | None = None) -> None:
        super().__init__()
        path = Path(path)
        if not path.is_file():
            raise BimoError(f"no model file at {path}")
        if not _gguf_ok(path):
            raise BimoError(f"{path} is not a GGUF model file")
        self.path = path
        self.uri = uri or f"gguf:{path}"
        self.n_ctx = n_ctx
        self.parallel = parallel
        self.threads = threads or default_threads()
        self.api_key = secrets.token_hex(16)
        key = (str(path.resolve()), n_ctx, parallel, self.threads)
        with _LOCK:
            entry = _SERVERS.get(key)
            if entry is None:
                entry = {"server": self._start(), "api_key": self.api_key, "refs": 0}
                _SERVERS[key] = entry
            entry["refs"] += 1
        self._key = key
        self.server = entry["server"]
        self.api_key = entry["api_key"]

    def _start(self) -> Any:
        import xllamacpp

        p = xllamacpp.CommonParams()
        p.model.path = str(self.path)
        # kv_unified: slots share one KV pool, so a single long request may use the
        # whole context while short concurrent ones still batch together.
        p.kv_unified = True
        p.n_ctx = self.n_ctx
        p.n_parallel = self.parallel
        p.cpuparams.n_threads = self.threads
        p.cpuparams_batch.n_threads = self.threads
        p.cache_prompt = True
        p.n_cache_reuse = 256
        p.warmup = False
        p.verbosity = int(os.environ.get("BIMO_LLAMA_VERBOSITY", "-1"))
        p.api_keys = [self.api_key]
        p.hostnames = ["127.0.0.1"]
        try:
            return xllamacpp.Server(p)
        except RuntimeError as exc:
            raise BimoError(f"llama.cpp could not load {self.path}: {exc}") from None

    @property
    def http_url(self) -> str:
        return str(self.server.listening_address)

    @staticmethod
    def _with_defaults(request: dict[str, Any]) -> dict[str, Any]:
        # Small models loop without a mild repetition penalty; callers may override it.
        if "repeat_penalty" not in request:
            request = {**request, "repeat_penalty": 1.1}
        return _compact_json(request)

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.server.handle_chat_completions(self._with_defaults(request))

    def _stream(self, request: dict[str, Any], on_chunk: Callable[[dict], bool]) -> None:
        result = self.server.handle_chat_completions(self._with_defaults(request), on_chunk)
        if isinstance(result, dict) and result.get("error"):
            on_chunk(result)

    def _complete_with_timeout(self, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        if timeout is None:
            return self._complete(request)
        stream = self.stream_request(request, timeout=timeout, cache=False)
        for _ in stream:
            pass
        comp = stream.completion
        assert comp is not None
        return comp.raw

    def close(self) -> None:
        """Release this handle. The loaded model stays cached for the process's lifetime:
        destroying an xllamacpp Server while its worker threads wind down can deadlock,
        and reopening the same model later is then free."""
        if self.server is None:
            return
        with _LOCK:
            entry = _SERVERS.get(self._key)
            if entry is not None:
                entry["refs"] = max(0, entry["refs"] - 1)
        self.server = None
