"""Refresh-ahead for the relay's in-process snapshots (groups, prices, upstream accounts).

Each snapshot is reloaded from the database every ``ttl`` seconds so other processes' edits
show up. A request that finds it just past its TTL is answered from it while one reload runs in
the background: with the embedded database behind on a flush backlog, waiting for the reload
would stall every relayed call at once. Past ``ttl + grace`` (or before the first load) callers
wait for the reload, so a long database outage never serves arbitrarily old data."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from server.singleflight import SingleFlight

log = logging.getLogger(__name__)

GRACE = 30.0


class Refresher:
    """Keeps one snapshot fresh by calling ``reload`` (which stores it and returns nothing)."""

    def __init__(self, name: str, reload: Callable[[], Awaitable[None]], ttl: float, grace: float = GRACE,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._reload = reload
        self.ttl = ttl
        self.grace = grace
        self._monotonic = monotonic
        self.loaded_at: float | None = None
        self._flight = SingleFlight()
        self._background: asyncio.Task | None = None

    def mark_loaded(self) -> None:
        self.loaded_at = self._monotonic()

    async def reload_now(self) -> None:
        """Reload (joining one in flight) and wait for it."""
        await self._flight.do(self.name, self._reload_and_mark)

    async def _reload_and_mark(self) -> None:
        await self._reload()
        self.mark_loaded()

    async def ensure(self) -> None:
        """Return at once while the snapshot is fresh enough; see the module docstring."""
        if self.loaded_at is None:
            await self.reload_now()
            return
        age = self._monotonic() - self.loaded_at
        if age <= self.ttl:
            return
        if age > self.ttl + self.grace:
            await self.reload_now()
            return
        if self._background is None or self._background.done():
            self._background = asyncio.get_running_loop().create_task(self._refresh(),
                                                                      name=f"refresh-{self.name}")

    async def _refresh(self) -> None:
        try:
            await self.reload_now()
        except Exception:  # noqa: BLE001 - the snapshot in hand stays in use until its grace ends
            log.warning("reloading %s failed; the snapshot in hand is used for up to %.0f s more", self.name,
                        self.grace, exc_info=True)

    async def settled(self) -> None:
        """Wait for a background reload in flight (tests, shutdown)."""
        if self._background is not None:
            await asyncio.gather(self._background, return_exceptions=True)
