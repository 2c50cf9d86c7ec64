"""A relay wired to two Anthropic and two Responses emulator accounts, reset per test."""

from __future__ import annotations

import pytest_asyncio

from tests.relay.support import add_upstreams, make_key, make_user, start_pool_emulator


@pytest_asyncio.fixture(scope="module")
async def emu():
    server = await start_pool_emulator(["a1", "a2", "o1", "o2"])
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module")
async def pool(relay, emu):
    await relay.deps.prices.seed_if_empty()
    # These tests are not about rates: keys without a limit of their own (0) stay unlimited.
    await relay.deps.runtime_settings.update(default_rate_limit=0)
    claude = await add_upstreams(relay.deps, emu, ["a1", "a2"], "claude", "anthropic")
    codex = await add_upstreams(relay.deps, emu, ["o1", "o2"], "codex", "openai")
    return {"claude": claude, "codex": codex}


@pytest_asyncio.fixture(autouse=True)
async def fresh_pool(request):
    """Every account healthy and every emulator knob at rest before each test."""
    if "pool" not in request.fixturenames:
        yield
        return
    relay = request.getfixturevalue("relay")
    emu = request.getfixturevalue("emu")
    emu.state.reset(knobs=True)
    for account in await relay.deps.upstreams.list():
        await relay.deps.upstreams.set_state(account["_id"], "healthy")
    await relay.deps.pools.reload()
    relay.deps.sticky._cache.clear()
    yield


@pytest_asyncio.fixture
async def user(relay):
    return await make_user(relay.deps.storage, balance=100_000_000)


@pytest_asyncio.fixture
async def claude_key(relay, user):
    return await make_key(relay.deps.storage, user["_id"], "claude")


@pytest_asyncio.fixture
async def codex_key(relay, user):
    return await make_key(relay.deps.storage, user["_id"], "codex")
