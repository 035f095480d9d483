"""What the route handlers share: config, backend, its slot pool, jobs and the arena."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bimo.llm.base import Backend
from bimo.serve.config import ServeConfig
from bimo.serve.slots import SlotPool


@dataclass
class ServerState:
    config: ServeConfig
    backend: Backend
    slots: SlotPool
    jobs: Any = None  # JobManager
    arena: Any = None  # Arena
    started: int = field(default_factory=lambda: int(time.time()))

    @property
    def model_name(self) -> str:
        return self.backend.uri or "bimo"
