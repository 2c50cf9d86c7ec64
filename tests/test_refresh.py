"""Refresh-ahead snapshots: fresh → no reload; just stale → answered now, one reload behind;
long stale → callers wait; a failing background reload keeps the snapshot in hand."""

from __future__ import annotations

import asyncio

import pytest

from server.refresh import Refresher


class Source:
    def __init__(self) -> None:
        self.value = 0
        self.loads = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def reload(self) -> None:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("database unwell")
        self.value += 1


async def test_refresh_ahead_lifecycle():
    clock = [100.0]
    src = Source()
    r = Refresher("t", src.reload, ttl=5, grace=30, monotonic=lambda: clock[0])
    await r.ensure()  # first use waits for the load
    assert (src.loads, src.value) == (1, 1)
    clock[0] += 4
    await r.ensure()
    assert src.loads == 1
    clock[0] += 2  # just past the TTL: answered now, one reload in the background
    src.gate = asyncio.Event()
    for _ in range(10):
        await r.ensure()
    assert src.value == 1 and r._background is not None and not r._background.done()
    src.gate.set()
    await r.settled()
    assert (src.loads, src.value) == (2, 2)
    src.gate = None
    clock[0] += 100  # long past TTL + grace: the caller waits for fresh data
    await r.ensure()
    assert src.value == 3


async def test_failing_background_reload_keeps_the_snapshot(caplog):
    clock = [0.0]
    src = Source()
    r = Refresher("t", src.reload, ttl=5, grace=30, monotonic=lambda: clock[0])
    await r.ensure()
    src.fail = True
    clock[0] += 6
    await r.ensure()
    await r.settled()
    assert src.value == 1 and "reloading t failed" in caplog.text
    clock[0] += 60
    with pytest.raises(RuntimeError):
        await r.ensure()  # past the grace the error reaches the caller
