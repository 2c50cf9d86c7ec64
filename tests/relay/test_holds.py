"""F4/F5: money cannot run away. Admission holds an estimate of each request's cost against the
balance and the key's quota; the hold is settled after the charge, released on failure and
re-driven by the repair job. Over real HTTP, with the real database and emulator upstreams."""

from __future__ import annotations

import asyncio
import time


from server.billing.charges import UsageRecord
from server.billing.holds import HOLD_LEASE, estimate
from server.pricing.usage import Usage
from server.relay.context import RelayContext
from tests.relay.support import make_key, make_user, settled

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True,
       "messages": [{"role": "user", "content": "hi"}]}


# A share wide enough that only the money limits what one user runs at once; one hold per
# request (hold_lease_requests=0): tests/relay/test_leases.py runs the same money rules leased.
RELAY_SETTINGS = {"user_max_concurrency": 1000, "hold_lease_requests": 0}


async def _one_estimate(relay, key_doc, user) -> int:
    rule = await relay.deps.prices.find(MSG["model"])
    import orjson
    ctx = RelayContext(request_id="req_x", protocol="anthropic", path="/v1/messages", endpoint="/v1/messages",
                       key=key_doc, user=user, group={"_id": "claude"}, model=MSG["model"], body=MSG,
                       body_bytes=orjson.dumps(MSG), stream=True, headers={}, rule=rule)
    return estimate(ctx, relay.settings.hold_output_cap)


async def test_fifty_streams_from_one_cent_end_no_lower_than_one_estimate(relay, pool, emu):
    for name in ("a1", "a2"):  # every answer uses its whole max_tokens, paced so they overlap
        emu.state.patch(name, {"output_tokens": 64, "delta_interval_ms": 2})
    user = await make_user(relay.deps.storage, balance=10_000)  # $0.01
    key = await make_key(relay.deps.storage, user["_id"], "claude")
    key_doc = await relay.deps.storage.db.api_keys.find_one({"key_hash": {"$exists": True}, "user_id": user["_id"]})
    one = await _one_estimate(relay, key_doc, user)
    async with relay.client() as http:
        results = await asyncio.gather(*[
            http.post("/v1/messages", json={**MSG, "messages": [{"role": "user", "content": f"turn {i}"}]},
                      headers={"x-api-key": key}) for i in range(50)])
    await settled(relay, *results)
    codes = [r.status_code for r in results]
    assert codes.count(200) >= 1 and codes.count(402) >= 1, codes
    refused = next(r for r in results if r.status_code == 402)
    assert refused.json()["error"]["type"] == "insufficient_balance"
    balance, total = await relay.deps.ledger.balance_and_sum(user["_id"])
    assert balance == 10_000 + total  # every served stream billed, in full
    assert balance >= -one, (balance, one, codes.count(200))
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    assert doc.get("held", 0) == 0 and not doc.get("holds")  # every hold settled


async def test_a_quota_of_five_cents_is_passed_by_at_most_one_request(relay, pool, emu):
    for name in ("a1", "a2"):
        emu.state.patch(name, {"output_tokens": 64, "delta_interval_ms": 1})
    user = await make_user(relay.deps.storage, balance=100_000_000)
    key = await make_key(relay.deps.storage, user["_id"], "claude", spend_quota=50_000)  # $0.05
    async with relay.client() as http:
        codes: list[int] = []
        for wave in range(8):  # 8 waves of 20 in parallel: far more than the quota covers
            batch = await asyncio.gather(*[
                http.post("/v1/messages", json={**MSG, "messages": [{"role": "user", "content": f"w{wave} {i}"}]},
                          headers={"x-api-key": key}) for i in range(20)])
            codes += [r.status_code for r in batch]
            await settled(relay, *batch)
    assert 402 in codes and 200 in codes
    key_doc = await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]})
    costs = [row["cost"] async for row in relay.deps.storage.db.usage.find({"key_id": key_doc["_id"]})]
    assert key_doc["totals"]["cost"] == sum(costs)
    assert key_doc["totals"]["cost"] - 50_000 < max(costs), (key_doc["totals"]["cost"], max(costs))
    assert key_doc.get("held", 0) == 0


async def test_failed_request_releases_its_hold_and_costs_nothing(relay, pool, emu):
    for name in ("a1", "a2"):
        emu.state.patch(name, {"fault": "500"})
    user = await make_user(relay.deps.storage, balance=5_000)
    key = await make_key(relay.deps.storage, user["_id"], "claude")
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
    assert r.status_code >= 500
    await settled(relay, r)
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    assert doc["balance"] == 5_000 and doc.get("held", 0) == 0 and not doc.get("holds")


async def test_overdraft_lets_an_operator_extend_credit(relay, pool):
    broke = await make_user(relay.deps.storage, balance=0)
    trusted = await make_user(relay.deps.storage, balance=0, overdraft=1_000_000)  # $1 of credit
    async with relay.client() as http:
        refused = await http.post("/v1/messages", json=MSG,
                                  headers={"x-api-key": await make_key(relay.deps.storage, broke["_id"], "claude")})
        served = await http.post("/v1/messages", json=MSG,
                                 headers={"x-api-key": await make_key(relay.deps.storage, trusted["_id"], "claude")})
    assert refused.status_code == 402 and served.status_code == 200
    await settled(relay, served)
    balance, total = await relay.deps.ledger.balance_and_sum(trusted["_id"])
    assert -1_000_000 <= balance < 0 and balance == total


async def test_disabling_a_user_or_key_elsewhere_stops_calls_at_once(relay, pool):
    user = await make_user(relay.deps.storage)
    key = await make_key(relay.deps.storage, user["_id"], "claude")
    async with relay.client() as http:
        assert (await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})).status_code == 200
        # Another process disables the key: this process's cached lookup still says active.
        await relay.deps.storage.db.api_keys.update_one({"user_id": user["_id"]}, {"$set": {"status": "disabled"}})
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
        assert r.status_code == 401 and "已禁用" in r.json()["error"]["message"]
        await relay.deps.storage.db.api_keys.update_one({"user_id": user["_id"]}, {"$set": {"status": "active"}})
        assert (await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})).status_code == 200
        await relay.deps.storage.db.users.update_one({"_id": user["_id"]}, {"$set": {"status": "disabled"}})
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
        assert r.status_code == 403


async def test_key_without_rate_limit_gets_the_operators_default(relay, pool):
    user = await make_user(relay.deps.storage)
    key = await make_key(relay.deps.storage, user["_id"], "claude", rate_limit=0)
    await relay.deps.runtime_settings.update(default_rate_limit=2)
    try:
        async with relay.client() as http:
            codes = [(await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})).status_code
                     for _ in range(3)]
    finally:
        await relay.deps.runtime_settings.update(default_rate_limit=0)
    assert codes == [200, 200, 429]


async def test_settle_is_idempotent_and_repair_releases_what_a_crash_left(relay, pool):
    holds = relay.deps.holds
    user = await make_user(relay.deps.storage, balance=1_000_000)
    await make_key(relay.deps.storage, user["_id"], "claude")
    key_doc = await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]})
    rule = await relay.deps.prices.find(MSG["model"])
    import orjson

    def ctx(rid: str) -> RelayContext:
        return RelayContext(request_id=rid, protocol="anthropic", path="/v1/messages", endpoint="/v1/messages",
                            key=key_doc, user=user, group={"_id": "claude"}, model=MSG["model"], body=MSG,
                            body_bytes=orjson.dumps(MSG), stream=True, headers={}, rule=rule)

    charged, orphan = ctx("req_charged_then_crashed"), ctx("req_never_reported")
    await holds.take(charged)
    await holds.take(orphan)
    held = charged.hold + orphan.hold
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    assert doc["held"] == held
    # The first request was charged but its process died before settling: repair sees its row.
    record = UsageRecord(request_id=charged.request_id, user_id=user["_id"], key_id=key_doc["_id"],
                         group="claude", model=MSG["model"], usage=Usage(input=3, output=5), rule=rule,
                         hold=charged.hold)
    settle, relay.deps.charges.settle = relay.deps.charges.settle, None
    try:
        await relay.deps.charges.charge_many([record])  # "crash": no settle
    finally:
        relay.deps.charges.settle = settle
    assert await holds.repair() >= 2  # the user's hold and the key's (and any other test's leftovers)
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    assert doc["held"] == orphan.hold
    await holds.settle([record])  # a late settle of the same request changes nothing
    assert (await relay.deps.storage.db.users.find_one({"_id": user["_id"]}))["held"] == orphan.hold
    # The other request never reported: its lease runs out, then repair lets it go.
    await relay.deps.storage.db.users.update_one(
        {"_id": user["_id"]}, {"$set": {f"holds.{orphan.request_id}.x": time.time() - 1}})
    await relay.deps.storage.db.api_keys.update_one(
        {"_id": key_doc["_id"]}, {"$set": {f"holds.{orphan.request_id}.x": time.time() - 1}})
    assert await holds.repair() >= 2
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    key_after = await relay.deps.storage.db.api_keys.find_one({"_id": key_doc["_id"]})
    assert doc["held"] == 0 and not doc.get("holds") and key_after["held"] == 0
    assert HOLD_LEASE >= 600  # a lease shorter than a long stream would free money still in use


async def test_a_free_model_holds_nothing_but_still_checks_the_switches(relay, pool):
    import orjson
    import pytest

    from server.pricing.pricing import PriceRule
    from server.errors import Forbidden

    user = await make_user(relay.deps.storage, balance=10)
    await make_key(relay.deps.storage, user["_id"], "claude")
    key_doc = await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]})
    ctx = RelayContext(request_id="req_free_model", protocol="anthropic", path="/v1/messages",
                       endpoint="/v1/messages", key=key_doc, user=user, group={"_id": "claude"},
                       model="free-model", body=MSG, body_bytes=orjson.dumps(MSG), stream=True, headers={},
                       rule=PriceRule.build("free-*", 0, 0))
    await relay.deps.holds.take(ctx)
    assert ctx.hold == 0
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    key_after = await relay.deps.storage.db.api_keys.find_one({"_id": key_doc["_id"]})
    assert not doc.get("holds") and not key_after.get("holds")  # nothing left for a settle to miss
    await relay.deps.storage.db.users.update_one({"_id": user["_id"]}, {"$set": {"status": "disabled"}})
    with pytest.raises(Forbidden):
        await relay.deps.holds.take(ctx)
