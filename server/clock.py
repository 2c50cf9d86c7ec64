"""Wall and monotonic time behind one small object, injected into every service that reads
the time, so tests can move time and nothing reads ``time.time()`` behind its back."""

from __future__ import annotations

import time
from typing import Protocol


class WallClock(Protocol):
    """What a service that only needs the wall time depends on (tests pass their own)."""

    def now(self) -> float: ...


class Clock:
    """Wall and monotonic time in one place, so tests can move time."""

    def now(self) -> float:
        """Epoch seconds."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds for measuring intervals (never goes back)."""
        return time.monotonic()
