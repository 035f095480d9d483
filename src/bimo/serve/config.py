"""Server settings in one place, checked once: a public bind without a key is refused."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from bimo.errors import BimoError

#: 1 MiB bodies and 200k-character prompts: generous for writing, small enough
#: that one client cannot make the server buffer gigabytes.
MAX_BODY_BYTES = 1 << 20
MAX_PROMPT_CHARS = 200_000
TOOL_CALL_MODES = ("auto", "native", "schema")


def is_loopback(host: str) -> bool:
    """True only for addresses that cannot be reached from another machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname could resolve anywhere: treat it as public


@dataclass
class ServeConfig:
    model: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    data_dir: Path | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_prompt_chars: int = MAX_PROMPT_CHARS
    #: origins allowed by CORS; empty means no CORS headers at all
    cors_origins: list[str] = field(default_factory=list)
    #: arena: a JSONL file of ready pairs, or two model URIs plus a prompts file
    arena_pairs: Path | None = None
    arena_models: list[str] = field(default_factory=list)
    arena_prompts: Path | None = None
    arena_db: Path | None = None
    #: length of each generated arena answer, in tokens
    arena_max_tokens: int = 512
    #: arena pairs being generated at once, per client address and in all; more get 429
    arena_max_pending_per_client: int = 2
    arena_max_pending: int = 4
    #: long-form jobs run at once; None: half the backend's slots (at least one)
    max_jobs: int | None = None
    #: long-form jobs allowed to wait; more get 429
    max_queued: int = 100
    #: how a request that forces a tool call is answered: "native" passes it to the
    #: backend, "schema" has the server constrain the answer to a call by JSON schema,
    #: "auto" uses schema for in-process backends (local:, gguf:, hf:), native otherwise
    tool_calls: str = "auto"

    def __post_init__(self) -> None:
        if self.api_key is None:
            self.api_key = os.environ.get("BIMO_API_KEY") or None
        if self.api_key:
            from bimo.serve.security import check_key

            check_key(self.api_key)
        if not is_loopback(self.host) and not self.api_key:
            raise BimoError(f"binding {self.host} exposes the server to the network; "
                            "set an API key with --api-key or BIMO_API_KEY")
        if self.arena_models and len(self.arena_models) != 2:
            raise BimoError("--arena-models takes exactly two model URIs: URI,URI")
        if self.arena_models and not self.arena_prompts:
            raise BimoError("--arena-models needs --arena-prompts FILE (one prompt a line, or JSONL with 'prompt')")
        if self.max_jobs is not None and self.max_jobs < 1:
            raise BimoError(f"--max-jobs must be at least 1, got {self.max_jobs}")
        if self.max_queued < 0:
            raise BimoError(f"--max-queued must be 0 or more, got {self.max_queued}")
        if self.arena_max_tokens < 1:
            raise BimoError(f"--arena-max-tokens must be at least 1, got {self.arena_max_tokens}")
        if self.arena_max_pending_per_client < 1 or self.arena_max_pending < 1:
            raise BimoError("--arena-max-pending and --arena-max-pending-per-client must be at least 1")
        if self.tool_calls not in TOOL_CALL_MODES:
            raise BimoError(f"unknown --tool-calls mode {self.tool_calls!r}; valid: {', '.join(TOOL_CALL_MODES)}")
        if self.data_dir is None:
            from bimo.paths import home

            self.data_dir = home() / "serve"
        self.data_dir = Path(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
