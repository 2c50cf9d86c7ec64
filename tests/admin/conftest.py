"""Operator API fixtures: a signed-in admin and an ordinary user on the module's relay, and
emulator upstreams for the pool scenarios."""

from __future__ import annotations

import pytest_asyncio

from tests.admin.support import Api, signed_in
from tests.relay.support import start_pool_emulator


@pytest_asyncio.fixture(scope="module")
async def admin(relay):
    user, token = await signed_in(relay, "admin")
    async with relay.client() as http:
        api = Api(http, token)
        api.user = user
        yield api


@pytest_asyncio.fixture(scope="module")
async def member(relay):
    user, token = await signed_in(relay, "user")
    async with relay.client() as http:
        api = Api(http, token)
        api.user = user
        yield api


@pytest_asyncio.fixture(scope="module")
async def emu():
    server = await start_pool_emulator(["e1", "e2", "e3"])
    yield server
    await server.stop()
