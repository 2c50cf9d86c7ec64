"""Cooldowns keep their word (issue 13, point 4), over real HTTP: a probe never ends a cooldown
before its reset time, a successful probe ends only a transport error's cooldown, values read
from upstream headers are capped and fall back to the rule's seconds when unusable, and a 429
of count_tokens does not rest the account for messages."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from server.pools.rules import MAX_HEADER_COOLDOWN, reset_seconds

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


async def _state(relay, name):
    return next(d["state"] for d in await relay.deps.upstreams.list() if d["name"] == name)


async def _until_a1_is_hit(relay, emu, key):
    """Distinct conversations until round-robin has sent one more to a1."""
    before = emu.state.requests["a1"]
    async with relay.client() as http:
        for i in range(4):
            body = {**MSG, "messages": [{"role": "user", "content": f"turn {i} {time.time()}"}]}
            r = await http.post("/v1/messages", json=body, headers={"x-api-key": key})
            assert r.status_code == 200, r.text
            if emu.state.requests["a1"] > before:
                return
    raise AssertionError("a1 never selected")


async def test_a_probe_never_ends_a_rate_limit_before_its_reset(relay, pool, emu, claude_key):
    emu.state.patch("a1", {"fault": "429", "retry_after": 600, "fail_next": 1})
    await _until_a1_is_hit(relay, emu, claude_key)
    state = await _state(relay, "a1")
    assert state["status"] == "cooling" and 590 < state["cooldown_until"] - time.time() <= 600
    until = state["cooldown_until"]
    assert emu.state.accounts["emu-key-a1"].fault is None  # a1 would answer a probe now
    before = emu.state.requests["a1"]
    result = await relay.deps.scheduler.jobs["health_probes"].func()
    assert result["probed"] >= 1
    assert emu.state.requests["a1"] == before  # resting until its reset: not even probed
    # An operator's explicit test succeeds, and still does not cut the rest short.
    probe = await relay.deps.pools.probe(pool["claude"][0]["_id"], relay.deps.upstream_client, by_operator=True)
    assert probe["ok"] is True
    state = await _state(relay, "a1")
    assert state["status"] == "cooling" and state["cooldown_until"] == until


async def test_a_probe_failure_never_shortens_a_longer_cooldown(relay, pool, emu, claude_key):
    emu.state.patch("a1", {"fault": "429", "retry_after": 600, "fail_next": 1})
    await _until_a1_is_hit(relay, emu, claude_key)
    until = (await _state(relay, "a1"))["cooldown_until"]
    # A failure reported meanwhile (a probe's, or a request in flight since before the 429)
    # whose rule rests the account only briefly keeps the longer rest, and its kind.
    account = relay.deps.pools.accounts[pool["claude"][0]["_id"]]
    for status in ("500", "connect"):
        await relay.deps.pools.report_failure(account, status)
        state = await _state(relay, "a1")
        assert state["cooldown_until"] == until and state["kind"] == "status"


async def test_a_successful_probe_ends_a_transport_cooldown(relay, pool, emu, claude_key):
    emu.state.patch("a1", {"fault": "reset", "fail_next": 1})
    await _until_a1_is_hit(relay, emu, claude_key)
    state = await _state(relay, "a1")
    assert state["status"] == "cooling" and state["kind"] == "transport"
    result = await relay.deps.scheduler.jobs["health_probes"].func()
    assert result["ok"] >= 1
    assert (await _state(relay, "a1"))["status"] == "healthy"
    assert relay.deps.pools.accounts[pool["claude"][0]["_id"]].status == "healthy"


@pytest.mark.parametrize("raw, expected", [("inf", 60), ("-5", 60), ("soon", 60), ("NaN", 60),
                                           ("999999", MAX_HEADER_COOLDOWN), ("42", 42)])
async def test_retry_after_values_are_capped_or_fall_back_to_the_rule(relay, pool, emu, claude_key, raw, expected):
    emu.state.patch("a1", {"fault": "429", "retry_after_raw": raw, "fail_next": 1})
    await _until_a1_is_hit(relay, emu, claude_key)
    state = await _state(relay, "a1")
    # "429: rest until the reset header", 60 s when the header says nothing usable.
    assert state["status"] == "cooling"
    assert expected - 3 < state["cooldown_until"] - time.time() <= expected


def test_reset_headers_parsing():
    now = 1_800_000_000.0
    iso = "2027-01-15T08:00:30Z"
    at = dt.datetime(2027, 1, 15, 8, 0, 30, tzinfo=dt.timezone.utc).timestamp()
    assert reset_seconds({"anthropic-ratelimit-requests-reset": iso}, at - 20) == pytest.approx(20)
    assert reset_seconds({"anthropic-ratelimit-tokens-reset": iso}, at - 86400) == MAX_HEADER_COOLDOWN
    assert reset_seconds({"anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:30"}, now) is None  # no zone
    assert reset_seconds({"anthropic-ratelimit-tokens-reset": iso}, at + 5) is None  # already past
    assert reset_seconds({"x-ratelimit-reset-requests": "6m0s"}, now) == 360
    assert reset_seconds({"x-ratelimit-reset-tokens": "infs"}, now) is None
    assert reset_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now) is None  # a past date
    assert reset_seconds({"retry-after": "inf", "x-ratelimit-reset-requests": "2s"}, now) == 2


async def test_count_tokens_429_does_not_rest_the_account_for_messages(relay, pool, emu, claude_key):
    emu.state.patch("a1", {"fault": "429", "retry_after": 600})
    async with relay.client() as http:
        for i in range(3):
            body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": f"count {i}"}]}
            r = await http.post("/v1/messages/count_tokens", json=body, headers={"x-api-key": claude_key})
            assert r.status_code == 200 and r.json()["input_tokens"] > 0  # failed over to a2
    assert emu.state.requests["a1"] == 1  # then left alone for count_tokens
    assert (await _state(relay, "a1"))["status"] == "healthy"  # …but not for messages
    emu.state.patch("a1", {"fault": None})
    await _until_a1_is_hit(relay, emu, claude_key)
    assert emu.state.requests["a1"] == 2


async def test_a_rest_ends_on_the_relay_clock_not_the_system_clock(relay, pool, emu, claude_key, monkeypatch):
    """The pool, its accounts, the stored health state and the probe job all read the relay's
    injected clock: moved past the reset, the account is no longer resting and the probe job
    probes it and puts it back, with no wait and no ``time.time()`` behind the clock's back."""
    emu.state.patch("a1", {"fault": "429", "retry_after": 600, "fail_next": 1})
    await _until_a1_is_hit(relay, emu, claude_key)
    account = relay.deps.pools.accounts[pool["claude"][0]["_id"]]
    until = (await _state(relay, "a1"))["cooldown_until"]
    assert account.status == "cooling"
    before = emu.state.requests["a1"]
    monkeypatch.setattr(relay.deps.clock, "now", lambda: until + 1)
    assert account.status == "healthy"  # this process's view: the rest is over
    result = await relay.deps.scheduler.jobs["health_probes"].func()
    assert result["ok"] >= 1
    assert emu.state.requests["a1"] == before + 1  # due on the moved clock: probed
    state = await _state(relay, "a1")
    assert state["status"] == "healthy" and state["since"] == until + 1  # the store's time too
