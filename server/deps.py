"""The dependencies object: everything long-lived that handlers and jobs need, built once
per process after start-up and handed to the app through ``Application.settings["deps"]``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from server.settings import Settings
from server.storage.db import Storage


class Clock:
    """Wall and monotonic time in one place, so tests can move time."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class Deps:
    """Long-lived services of one relay process. No module-level state anywhere else."""

    settings: Settings
    storage: Storage
    clock: Clock = field(default_factory=Clock)
    inflight: int = 0
    shutdown_hooks: list[Callable[[], Any]] = field(default_factory=list)
