"""The count of dashboard and relay requests being served, which the drain waits on and the
overview and metrics show. A small object of its own so the frozen ``Deps`` can hold it."""

from __future__ import annotations


class InFlight:
    """Requests between ``prepare`` and ``on_finish`` in this process."""

    def __init__(self) -> None:
        self.count = 0

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
