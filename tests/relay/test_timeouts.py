"""Timeouts before the commit point fail over: an upstream that accepts the request and then
stalls (headers and message_start sent, no content) is abandoned after the first-byte bound."""

from __future__ import annotations

import time

import pytest_asyncio

from tests.relay.support import add_upstreams, make_key, make_user, start_pool_emulator
from tests.support import RelayUnderTest


@pytest_asyncio.fixture(scope="module")
async def quick_relay(storage):
    server = await RelayUnderTest.start(storage, upstream_first_byte_timeout=0.5)
    yield server
    await server.stop()


async def test_stall_before_content_fails_over_and_cools_down(quick_relay):
    emu = await start_pool_emulator(["s1", "s2"])
    try:
        await quick_relay.deps.prices.seed_if_empty()
        await add_upstreams(quick_relay.deps, emu, ["s1", "s2"], "claude", "anthropic")
        user = await make_user(quick_relay.deps.storage)
        key = await make_key(quick_relay.deps.storage, user["_id"], "claude")
        emu.state.patch("s1", {"fault": "stall"})
        async with quick_relay.client() as http:
            for i in range(2):  # distinct conversations, so round-robin reaches s1
                body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "stream": True,
                        "messages": [{"role": "user", "content": f"turn {i}"}]}
                r = await http.post("/v1/messages", json=body, headers={"x-api-key": key})
                assert r.status_code == 200 and b"message_stop" in r.content
                assert r.content.count(b"event: message_start") == 1
        states = {d["name"]: d["state"] for d in await quick_relay.deps.upstreams.list()}
        assert states["s1"]["status"] == "cooling" and states["s1"]["cooldown_until"] > time.time()
        assert states["s2"]["status"] == "healthy"
        assert emu.state.requests["s2"] == 2
    finally:
        await emu.stop()
