"""Refusals before any upstream call, in the protocol's own envelope with the seed's words."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.relay.support import make_key, make_user

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
RESP = {"model": "gpt-5.4", "input": "hi"}


async def _upstream_calls(emu) -> int:
    return sum(emu.state.requests.values())


async def test_missing_and_invalid_key(relay, pool, emu):
    before = await _upstream_calls(emu)
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG)
        assert r.status_code == 401 and r.headers["x-should-retry"] == "false"
        assert r.json() == {"type": "error", "error": {"type": "authentication_error", "message": "无效的 API Key"}}
        r = await http.post("/v1/responses", json=RESP, headers={"authorization": "Bearer sk-nope"})
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "无效的 API Key" and r.json()["error"]["code"] == "authentication_error"
    assert await _upstream_calls(emu) == before


@pytest.mark.parametrize("fields, status, fragment", [
    ({"status": "disabled"}, 401, "已禁用"),
    ({"expires_at": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)}, 401, "已过期"),
    ({"models": ["claude-haiku-*"]}, 403, "不允许使用模型"),
])
async def test_key_state_and_allow_list(relay, pool, emu, user, fields, status, fragment):
    key = await make_key(relay.deps.storage, user["_id"], "claude", **fields)
    before = await _upstream_calls(emu)
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
    assert r.status_code == status and fragment in r.json()["error"]["message"]
    assert r.headers["x-should-retry"] == "false"
    assert await _upstream_calls(emu) == before


async def test_wrong_group_names_the_group(relay, pool, claude_key, codex_key):
    async with relay.client() as http:
        r = await http.post("/v1/responses", json=RESP, headers={"authorization": f"Bearer {claude_key}"})
        assert r.status_code == 400 and "claude" in r.json()["error"]["message"]
        assert "codex" in r.json()["error"]["message"]
        r = await http.post("/v1/messages", json=MSG, headers={"authorization": f"Bearer {codex_key}"})
        assert r.status_code == 400 and "codex" in r.json()["error"]["message"]


async def test_unpriced_model_and_bad_body(relay, pool, emu, claude_key):
    before = await _upstream_calls(emu)
    async with relay.client() as http:
        r = await http.post("/v1/messages", json={**MSG, "model": "mystery-model"}, headers={"x-api-key": claude_key})
        assert r.status_code == 400 and "mystery-model" in r.json()["error"]["message"]
        r = await http.post("/v1/messages", content=b"{not json", headers={"x-api-key": claude_key})
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
        r = await http.post("/v1/messages", json={"max_tokens": 5}, headers={"x-api-key": claude_key})
        assert r.status_code == 400 and "model" in r.json()["error"]["message"]
    assert await _upstream_calls(emu) == before


async def test_zero_balance(relay, pool, emu):
    poor = await make_user(relay.deps.storage, balance=0)
    key = await make_key(relay.deps.storage, poor["_id"], "claude")
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
    assert r.status_code == 402 and r.headers["x-should-retry"] == "false"
    assert r.json()["error"] == {"type": "insufficient_balance", "message": "账户余额不足,请充值"}


async def test_rate_limit_returns_seed_error_with_retry_after(relay, pool, user):
    key = await make_key(relay.deps.storage, user["_id"], "claude", rate_limit=3)
    async with relay.client() as http:
        codes = [(await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})) for _ in range(5)]
    assert [r.status_code for r in codes[:3]] == [200, 200, 200]
    limited = codes[3]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"] == {"type": "rate_limit_exceeded", "message": "请求过于频繁,请稍后再试"}


async def test_concurrency_limit(relay, pool, emu, user):
    import asyncio

    key = await make_key(relay.deps.storage, user["_id"], "claude", max_concurrency=1)
    emu.state.patch("a1", {"latency_ms": 300})
    emu.state.patch("a2", {"latency_ms": 300})
    async with relay.client() as http:
        results = await asyncio.gather(*[http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
                                         for _ in range(3)])
    codes = sorted(r.status_code for r in results)
    assert codes[0] == 200 and 429 in codes
    limited = next(r for r in results if r.status_code == 429)
    assert limited.headers["retry-after"] == "1"


async def test_exhausted_balance_is_refused_without_waiting_for_caches(relay, pool):
    # Enough for one call's hold (input counted in full, output up to max_tokens), not two.
    poor = await make_user(relay.deps.storage, balance=400)
    key = await make_key(relay.deps.storage, poor["_id"], "claude")
    async with relay.client() as http:
        first = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
        assert first.status_code == 200
        await relay.usage.wait_recorded(first.headers["x-jiuliu-request-id"])
        await relay.deps.recorder.flush()
        second = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
    assert second.status_code == 402 and second.json()["error"]["type"] == "insufficient_balance"
    balance, total = await relay.deps.ledger.balance_and_sum(poor["_id"])
    assert 0 <= balance < 400 and balance == 400 + total  # seeded 400, then the admitted call in full


@pytest.mark.parametrize("body, field", [
    ({**MSG, "messages": []}, "messages"),
    ({**MSG, "messages": {"role": "user"}}, "messages"),
    ({**MSG, "model": "claude-sonnet-4" + "x" * 500}, "model"),
    ({**MSG, "model": "claude sonnet; drop"}, "model"),
])
async def test_malformed_fields_are_400_before_any_work(relay, pool, emu, claude_key, body, field):
    before = await _upstream_calls(emu)
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=body, headers={"x-api-key": claude_key})
    assert r.status_code == 400 and field in r.json()["error"]["message"]
    assert await _upstream_calls(emu) == before
