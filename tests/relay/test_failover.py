"""Failover before the commit point, protocol error events after it, round-robin spread and
session stickiness, against emulator accounts with injected faults."""

from __future__ import annotations

import time

import pytest

from tests.relay.support import parse_sse

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
RESP = {"model": "gpt-5.4", "input": "hi"}

STATUS_FAULTS = [("401", "disabled"), ("403", "disabled"), ("429", "cooling"), ("500", "cooling"),
                 ("502", "cooling"), ("529", "cooling"), ("reset", "cooling")]
CASES = [(f, e, p, s) for f, e in STATUS_FAULTS for p in ("anthropic", "openai") for s in (True, False)]
CASES += [("stream_error", "cooling", p, True) for p in ("anthropic", "openai")]


async def _state(relay, name):
    for doc in await relay.deps.upstreams.list():
        if doc["name"] == name:
            return doc["state"]
    raise KeyError(name)


def _distinct(body, i):
    if "messages" in body:
        return {**body, "messages": [{"role": "user", "content": f"conversation {i}"}]}
    return {**body, "input": f"conversation {i}"}


def _call(protocol, claude_key, codex_key):
    if protocol == "anthropic":
        return "/v1/messages", MSG, {"x-api-key": claude_key}, ("a1", "a2")
    return "/v1/responses", RESP, {"authorization": f"Bearer {codex_key}"}, ("o1", "o2")


@pytest.mark.parametrize("fault, expected, protocol, stream", CASES,
                         ids=[f"{f}-{p}-{'stream' if s else 'json'}" for f, _, p, s in CASES])
async def test_failover_before_commit(relay, pool, emu, claude_key, codex_key, fault, expected, protocol, stream):
    path, body, headers, (bad, good) = _call(protocol, claude_key, codex_key)
    emu.state.patch(bad, {"fault": fault})
    async with relay.client() as http:
        for i in range(4):  # distinct conversations: round-robin, no stickiness
            r = await http.post(path, json={**_distinct(body, i), "stream": stream}, headers=headers)
            assert r.status_code == 200, r.text
            if stream:
                names = [n for n, _ in parse_sse(r.content)]
                assert "error" not in names and "response.failed" not in names
    state = await _state(relay, bad)
    assert state["status"] == expected
    if expected == "cooling":
        assert state["cooldown_until"] > time.time()
    assert emu.state.requests[good] == 4
    assert emu.state.requests[bad] == 1  # tried once in its round-robin turn, then left alone


async def test_429_cooldown_follows_retry_after(relay, pool, emu, claude_key):
    emu.state.patch("a1", {"fault": "429", "retry_after": 7})
    async with relay.client() as http:
        for i in range(2):  # round-robin reaches a1 within two requests
            r = await http.post("/v1/messages", json=_distinct(MSG, i), headers={"x-api-key": claude_key})
            assert r.status_code == 200
    a1 = await _state(relay, "a1")
    assert a1["status"] == "cooling" and 5 < a1["cooldown_until"] - time.time() <= 7.5


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
@pytest.mark.parametrize("fault", ["stream_error_late", "eof"])
async def test_fault_after_commit_ends_stream_with_protocol_error(relay, pool, emu, claude_key, codex_key,
                                                                  protocol, fault):
    path, body, headers, (first, second) = _call(protocol, claude_key, codex_key)
    # Paced deltas: content reaches the relay (commit) before the failure does.
    emu.state.patch(first, {"fault": fault, "output_tokens": 20, "delta_interval_ms": 10})
    emu.state.patch(second, {"fault": fault, "output_tokens": 20, "delta_interval_ms": 10})
    async with relay.client() as http:
        r = await http.post(path, json={**body, "stream": True}, headers=headers)
    assert r.status_code == 200
    events = parse_sse(r.content)
    names = [n for n, _ in events]
    assert names[-1] in ("error", "response.failed")
    # One upstream served the whole stream: no bytes of a second response were spliced in.
    assert sum(emu.state.requests[n] for n in (first, second)) == 1
    starts = names.count("message_start") + names.count("response.created")
    assert starts == 1


async def test_all_accounts_failing_gives_protocol_error(relay, pool, emu, claude_key):
    emu.state.patch("a1", {"fault": "500"})
    emu.state.patch("a2", {"fault": "500"})
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": claude_key})
        assert r.status_code == 503 and r.json()["type"] == "error"
        assert 1 <= int(r.headers["retry-after"]) <= 30  # the accounts cool down for 30 s
        assert "Internal server error" not in r.text  # the upstream's words stay with the operator
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": claude_key})
        assert r.status_code == 503 and "没有可用的上游账号" in r.json()["error"]["message"]


async def test_client_errors_pass_through_unretried(relay, pool, emu, claude_key):
    emu.state.patch("a1", {"fault": "400"})
    emu.state.patch("a2", {"fault": "400"})
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": claude_key})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert emu.state.requests["a1"] + emu.state.requests["a2"] == 1
    assert (await _state(relay, "a1"))["status"] == "healthy"


async def test_round_robin_spreads_evenly(relay, pool, emu, claude_key):
    """The relay picks with the pool's round-robin (its exact sequences are tested without
    HTTP in tests/test_pool_balance.py): distinct conversations alternate between two equal
    accounts, so 20 calls split 10/10."""
    import asyncio

    async with relay.client() as http:
        async def one(i):
            body = {**MSG, "messages": [{"role": "user", "content": f"distinct {i}"}]}
            r = await http.post("/v1/messages", json=body, headers={"x-api-key": claude_key})
            assert r.status_code == 200
        share = relay.settings.user_max_concurrency  # one user's fair share of an unlimited pool
        for start in range(0, 20, share):
            await asyncio.gather(*[one(i) for i in range(start, min(20, start + share))])
    assert (emu.state.requests["a1"], emu.state.requests["a2"]) == (10, 10)


async def test_session_sticks_and_moves_on_failure(relay, pool, emu, claude_key):
    headers = {"x-api-key": claude_key, "x-claude-code-session-id": "sticky-session-1"}
    async with relay.client() as http:
        for turn in range(20):
            r = await http.post("/v1/messages", json=MSG, headers=headers)
            assert r.status_code == 200
    served = {n for n in ("a1", "a2") if emu.state.requests[n]}
    assert len(served) == 1
    first = served.pop()
    other = "a2" if first == "a1" else "a1"
    emu.state.patch(first, {"fault": "529"})
    emu.state.reset()
    emu.state.patch(first, {"fault": "529"})
    async with relay.client() as http:
        for turn in range(20):
            r = await http.post("/v1/messages", json=MSG, headers=headers)
            assert r.status_code == 200
    assert emu.state.requests[other] == 20 and emu.state.requests[first] == 1


async def test_parallel_turns_of_one_session_settle_on_one_account(relay, pool, emu, claude_key):
    """A client sending requests of one session in parallel (Claude Code's sub-agents do) must
    not keep flipping the session between accounts: the first binding stands."""
    import asyncio

    headers = {"x-api-key": claude_key, "x-claude-code-session-id": "parallel-session-1"}
    emu.state.reset()
    async with relay.client() as http:
        share = relay.settings.user_max_concurrency  # as many parallel turns as one user may hold

        async def worker() -> None:
            for _ in range(80 // share):  # after the first wave, every call finds the binding
                r = await http.post("/v1/messages", json=MSG, headers=headers)
                assert r.status_code == 200

        await asyncio.gather(*[worker() for _ in range(share)])
    a1, a2 = emu.state.requests["a1"], emu.state.requests["a2"]
    assert a1 + a2 == share * (80 // share)
    # Only the first wave, sent before any binding existed, may land on the other account.
    assert min(a1, a2) <= 16, (a1, a2)


async def test_a_success_never_lifts_a_running_cooldown_or_a_disable(relay, pool):
    pools = relay.deps.pools
    await pools.ensure_fresh()
    a1 = next(a for a in pools.accounts.values() if a.name == "a1")
    await pools._set(a1, "disabled", "401 from upstream", 0.0)
    await pools.mark_healthy(a1)
    assert (await _state(relay, "a1"))["status"] == "disabled"
    await pools._set(a1, "cooling", "429", time.time() + 60)
    await pools.mark_healthy(a1)
    assert (await _state(relay, "a1"))["status"] == "cooling"
    await pools._set(a1, "cooling", "429", time.time() - 1)
    await pools.mark_healthy(a1)
    assert (await _state(relay, "a1"))["status"] == "healthy"
