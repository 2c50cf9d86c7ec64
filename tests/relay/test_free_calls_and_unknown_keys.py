"""F10: count_tokens needs a positive balance and counts against the key's rate limit.
F11: a flood of invalid keys costs no database work (counted with a PyMongo command listener)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

import pytest_asyncio
from pymongo import monitoring

from server.storage.db import Storage
from tests.relay.support import make_key, make_user
from tests.support import RelayUnderTest

COUNT = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "how many tokens?"}]}


class Commands(monitoring.CommandListener):
    """Counts commands by (name, collection)."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.seen[(event.command_name, str(event.command.get(event.command_name)))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest_asyncio.fixture(scope="module")
async def commands():
    return Commands()


@pytest_asyncio.fixture(scope="module")
async def relay(storage, embedded_db, commands):
    watched = Storage.connect(embedded_db.url, storage.db.name, event_listeners=[commands])
    server = await RelayUnderTest.start(watched)
    yield server
    await server.stop()
    await watched.close()


async def test_count_tokens_needs_a_positive_balance(relay, pool, emu):
    broke = await make_user(relay.deps.storage, balance=0)
    key = await make_key(relay.deps.storage, broke["_id"], "claude")
    before = emu.state.requests.get("a1", 0) + emu.state.requests.get("a2", 0)
    async with relay.client() as http:
        r = await http.post("/v1/messages/count_tokens", json=COUNT, headers={"x-api-key": key})
    assert r.status_code == 402 and r.json()["error"]["type"] == "insufficient_balance"
    assert emu.state.requests.get("a1", 0) + emu.state.requests.get("a2", 0) == before  # never forwarded
    # A balance fully held by requests in flight is no balance either.
    held = await make_user(relay.deps.storage, balance=500, held=500)
    key = await make_key(relay.deps.storage, held["_id"], "claude")
    async with relay.client() as http:
        r = await http.post("/v1/messages/count_tokens", json=COUNT, headers={"x-api-key": key})
    assert r.status_code == 402


async def test_count_tokens_counts_against_the_rate_limit(relay, pool):
    user = await make_user(relay.deps.storage)
    own = await make_key(relay.deps.storage, user["_id"], "claude", rate_limit=2)
    unset = await make_key(relay.deps.storage, user["_id"], "claude", rate_limit=0)
    await relay.deps.runtime_settings.update(default_rate_limit=2)
    try:
        async with relay.client() as http:
            for key in (own, unset):
                codes = [(await http.post("/v1/messages/count_tokens", json=COUNT,
                                          headers={"x-api-key": key})).status_code for _ in range(3)]
                assert codes == [200, 200, 429], key
    finally:
        await relay.deps.runtime_settings.update(default_rate_limit=0)


async def test_a_flood_of_invalid_keys_costs_no_database_work(relay, pool, commands):
    flood = ["sk-" + secrets.token_urlsafe(32) for _ in range(10)]
    async with relay.client() as http:
        # Warm: each invalid key is looked up once.
        for key in flood:
            assert (await http.post("/v1/messages", json=COUNT, headers={"x-api-key": key})).status_code == 401
        commands.seen.clear()
        for _ in range(10):
            answers = await asyncio.gather(*[http.post("/v1/messages", json=COUNT, headers={"x-api-key": k})
                                             for k in flood])
            assert {a.status_code for a in answers} == {401}
    lookups = sum(n for (name, coll), n in commands.seen.items() if coll == "api_keys")
    assert lookups == 0, commands.seen


async def test_a_hold_costs_one_round_trip_per_document_in_steady_state(relay, pool, commands):
    """In steady state a call's hold costs no round trip at all (it is admitted against this
    process's budget lease, issue 15) and settling is in memory; the user document is written
    once per flush, by the ledger's balance move."""
    user = await make_user(relay.deps.storage)
    key = await make_key(relay.deps.storage, user["_id"], "claude")
    body = {**COUNT, "max_tokens": 16}
    async with relay.client() as http:
        first = await http.post("/v1/messages", json=body, headers={"x-api-key": key})
        await relay.usage.wait_recorded(first.headers["x-jiuliu-request-id"])
        await relay.deps.recorder.flush()
        commands.seen.clear()
        started = asyncio.get_running_loop().time()
        for _ in range(5):
            r = await http.post("/v1/messages", json=body, headers={"x-api-key": key})
            assert r.status_code == 200
            await relay.usage.wait_recorded(r.headers["x-jiuliu-request-id"])
            await relay.deps.recorder.flush()
    elapsed = asyncio.get_running_loop().time() - started
    on_users = {name: n for (name, coll), n in commands.seen.items() if coll == "users"}
    # Per flush (one per call here): the ledger's balance move. No hold and no settle writes, and
    # no reads of the user document for them (the key cache re-reads it once per cache_ttl, 5 s,
    # on a slow machine).
    assert on_users.get("find", 0) <= int(elapsed // relay.deps.keys.cache_ttl), commands.seen
    assert on_users.get("findAndModify", 0) == 5, commands.seen
