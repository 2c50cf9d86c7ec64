"""Timeouts by phase, over real HTTP (issue 13, point 3): a slow non-streaming answer is waited
for (one upstream generation, never one per account), a budget that runs out is a 504 in the
protocol's envelope without failover or cooldown, the client's own ``x-stainless-timeout``
bounds the wait, a stream's late head fails over, and accounts the client cannot even address
(port 99999, a key HTTP cannot carry) fail over instead of answering 500."""

from __future__ import annotations

import time

import pytest
import pytest_asyncio

from tests.relay.support import add_upstreams, make_key, make_user, start_pool_emulator
from tests.support import RelayUnderTest

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
RESP = {"model": "gpt-5.4", "input": "hi"}


@pytest_asyncio.fixture(scope="module")
async def setup(storage):
    relay = await RelayUnderTest.start(storage, upstream_first_byte_timeout=0.5, upstream_response_timeout=1.5)
    emu = await start_pool_emulator(["t1", "t2", "t3", "u1", "u2"])
    await relay.deps.prices.seed_if_empty()
    await add_upstreams(relay.deps, emu, ["t1", "t2", "t3"], "claude", "anthropic")
    await add_upstreams(relay.deps, emu, ["u1", "u2"], "codex", "openai")
    user = await make_user(relay.deps.storage)
    keys = {"claude": await make_key(relay.deps.storage, user["_id"], "claude"),
            "codex": await make_key(relay.deps.storage, user["_id"], "codex")}
    yield relay, emu, keys
    await emu.stop()
    await relay.stop()


@pytest_asyncio.fixture(autouse=True)
async def at_rest(setup):
    relay, emu, _ = setup
    emu.state.reset(knobs=True)
    for account in await relay.deps.upstreams.list():
        await relay.deps.upstreams.set_state(account["_id"], "healthy")
    await relay.deps.pools.reload()
    yield


async def _states(relay) -> dict[str, str]:
    return {d["name"]: d["state"]["status"] for d in await relay.deps.upstreams.list()}


async def _row(relay, response):
    request_id = response.headers["x-jiuliu-request-id"]
    await relay.usage.wait_recorded(request_id)
    await relay.deps.recorder.flush()
    return await relay.deps.storage.db.usage.find_one({"request_id": request_id})


async def test_non_streaming_slower_than_the_first_byte_bound_is_waited_for(setup):
    relay, emu, keys = setup
    for name in ("t1", "t2", "t3"):
        emu.state.patch(name, {"latency_ms": 900})  # past first_byte (0.5 s), inside the budget (1.5 s)
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": keys["claude"]})
    assert r.status_code == 200 and r.json()["type"] == "message"
    assert sum(emu.state.requests[n] for n in ("t1", "t2", "t3")) == 1  # one generation, not three
    assert set((await _states(relay)).values()) == {"healthy"}
    row = await _row(relay, r)
    assert row["status"] == 200 and row["cost"] > 0


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
async def test_budget_exhausted_is_a_504_without_failover_or_cooldown(setup, protocol):
    relay, emu, keys = setup
    names = ("t1", "t2", "t3") if protocol == "anthropic" else ("u1", "u2")
    for name in names:
        emu.state.patch(name, {"latency_ms": 4000})
    path, body, headers = (("/v1/messages", MSG, {"x-api-key": keys["claude"]}) if protocol == "anthropic"
                           else ("/v1/responses", RESP, {"authorization": f"Bearer {keys['codex']}"}))
    async with relay.client() as http:
        r = await http.post(path, json=body, headers=headers)
    assert r.status_code == 504
    if protocol == "anthropic":
        assert r.json()["type"] == "error" and r.json()["error"]["type"] == "timeout_error"
    else:
        assert r.json()["error"]["type"] == "timeout_error"
    assert sum(emu.state.requests[n] for n in names) == 1  # sent once, never to another account
    assert set((await _states(relay)).values()) == {"healthy"}  # slow is not broken
    row = await _row(relay, r)
    assert row["status"] == 504 and row["cost"] == 0 and row["attempts"] == 1  # nothing reported, nothing billed


async def test_the_clients_declared_timeout_bounds_the_wait(setup):
    relay, emu, keys = setup
    for name in ("t1", "t2", "t3"):
        emu.state.patch(name, {"latency_ms": 4000})
    relay.deps.proxy.settings = relay.settings.replace(upstream_response_timeout=600.0)
    try:
        started = time.monotonic()
        async with relay.client() as http:
            r = await http.post("/v1/messages", json=MSG,
                                headers={"x-api-key": keys["claude"], "x-stainless-timeout": "3"})
        waited = time.monotonic() - started
    finally:
        relay.deps.proxy.settings = relay.settings
    # 600 s configured, the client declared 3 s: the relay gives up a second before the client
    # would (so the client reads a clear 504), long before the upstream answers (4 s).
    assert r.status_code == 504 and 1.9 < waited < 3.0
    assert sum(emu.state.requests[n] for n in ("t1", "t2", "t3")) == 1


async def test_a_stream_whose_head_is_late_fails_over(setup):
    relay, emu, keys = setup
    emu.state.patch("t1", {"latency_ms": 2000})  # the head of a stream comes at once, or not at all
    async with relay.client() as http:
        for i in range(3):  # round-robin reaches t1
            body = {**MSG, "stream": True, "messages": [{"role": "user", "content": f"turn {i}"}]}
            r = await http.post("/v1/messages", json=body, headers={"x-api-key": keys["claude"]})
            assert r.status_code == 200 and b"event: message_stop" in r.content
    doc = next(d for d in await relay.deps.upstreams.list() if d["name"] == "t1")
    assert doc["state"]["status"] == "cooling" and doc["state"]["kind"] == "transport"


@pytest.mark.parametrize("bad, expected", [({"base_url": "http://127.0.0.1:99999"}, "disabled"),
                                           ({"api_key": "emu-key-t1-密钥"}, "disabled"),
                                           ({"base_url": "http://127.0.0.1:9"}, "cooling")],
                         ids=["port-out-of-range", "non-latin-1-key", "nothing-listening"])
async def test_an_account_that_cannot_be_reached_fails_over(setup, bad, expected):
    relay, emu, keys = setup
    doc = await relay.deps.upstreams.create({"name": "broken", "groups": ["claude"], "protocol": "anthropic",
                                             "base_url": emu.base_url, "api_key": "emu-key-t1", **bad})
    await relay.deps.pools.reload()
    try:
        async with relay.client() as http:
            for i in range(8):
                for stream in (False, True):
                    # Fresh conversations (no stickiness from another case): round-robin reaches it.
                    body = {**MSG, "stream": stream, "messages": [{"role": "user", "content": f"{bad} c{i}"}]}
                    r = await http.post("/v1/messages", json=body, headers={"x-api-key": keys["claude"]})
                    assert r.status_code == 200, r.text
        state = (await relay.deps.upstreams.get(doc["_id"]))["state"]
        # Its own configuration: disabled until the operator fixes it; an upstream that is down:
        # cooled as a transport error. Either way the reason shows on the pools page.
        assert state["status"] == expected and state["reason"]
    finally:
        await relay.deps.upstreams.delete(doc["_id"])
        await relay.deps.pools.reload()


async def test_a_non_streaming_body_cut_after_its_head_is_not_sent_again(setup):
    relay, emu, keys = setup
    for name in ("t1", "t2", "t3"):
        emu.state.patch(name, {"fault": "eof"})  # a 200 head, half the JSON, then the socket closes
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": keys["claude"]})
    assert r.status_code == 502 and r.json()["type"] == "error"
    assert sum(emu.state.requests[n] for n in ("t1", "t2", "t3")) == 1  # generated once: not again
    states = await _states(relay)
    assert sorted(states.values()).count("cooling") == 1  # that account's transport failed
    row = await _row(relay, r)
    assert row["status"] == 502 and row["cost"] == 0
