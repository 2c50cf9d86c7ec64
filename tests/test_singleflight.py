"""Single flight: a herd of callers costs one call; errors reach every caller."""

from __future__ import annotations

import asyncio

import pytest

from server.singleflight import SingleFlight


async def test_concurrent_callers_share_one_call():
    flight, calls, gate = SingleFlight(), [], asyncio.Event()

    async def load():
        calls.append(1)
        await gate.wait()
        return "value"

    waiters = [asyncio.ensure_future(flight.do("k", load)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == ["value"] * 50 and len(calls) == 1
    assert await flight.do("k", load) == "value" and len(calls) == 2  # a later call runs again


async def test_an_error_reaches_every_waiter():
    flight, gate = SingleFlight(), asyncio.Event()

    async def boom():
        await gate.wait()
        raise RuntimeError("database down")

    waiters = [asyncio.ensure_future(flight.do("k", boom)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        await flight.do("k", boom)
