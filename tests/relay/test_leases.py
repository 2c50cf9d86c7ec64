"""Budget leases (issue 15): the money rules of tests/relay/test_holds.py with each process
admitting against one lease per user and key. Over real HTTP and the real database; two
HoldService instances on one database stand for two relay processes."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from server.billing.charges import UsageRecord
from server.billing.holds import HoldService, estimate
from server.errors import InsufficientBalance
from server.pricing.usage import Usage
from server.relay.context import RelayContext
from server.storage.holds import HoldStore
from tests.relay.support import make_key, make_user, settled

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True,
       "messages": [{"role": "user", "content": "hi"}]}


# A renewal period far longer than a test: every renewal here is forced by the budget (or by
# the test, standing for the period passing), never by the clock.
RELAY_SETTINGS = {"user_max_concurrency": 1000, "hold_lease_requests": 32, "hold_lease_seconds": 3600}


def _period_passes(holds: HoldService) -> None:
    """What ``hold_lease_seconds`` passing does: every lease renews at its next admission, and
    the next sweep gives back the idle ones."""
    for book in (holds.leases.users, holds.leases.keys):
        for lease in book.values():
            lease.renew_at = 0.0
    holds._last_sweep = -1e9


async def _ctx(relay, user, key_doc, rid: str) -> RelayContext:
    rule = await relay.deps.prices.find(MSG["model"])
    return RelayContext(request_id=rid, protocol="anthropic", path="/v1/messages", endpoint="/v1/messages",
                        key=key_doc, user=user, group={"_id": "claude"}, model=MSG["model"], body=MSG,
                        body_bytes=orjson.dumps(MSG), stream=True, headers={}, rule=rule)


async def test_fifty_streams_from_one_cent_leased_end_no_lower_than_one_estimate(relay, pool, emu):
    for name in ("a1", "a2"):
        emu.state.patch(name, {"output_tokens": 64, "delta_interval_ms": 2})
    user = await make_user(relay.deps.storage, balance=10_000)  # $0.01
    key = await make_key(relay.deps.storage, user["_id"], "claude")
    key_doc = await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]})
    one = estimate(await _ctx(relay, user, key_doc, "req_x"), relay.settings.hold_output_cap)
    async with relay.client() as http:
        results = await asyncio.gather(*[
            http.post("/v1/messages", json={**MSG, "messages": [{"role": "user", "content": f"turn {i}"}]},
                      headers={"x-api-key": key}) for i in range(50)])
    await settled(relay, *results)
    codes = [r.status_code for r in results]
    assert codes.count(200) >= 1 and codes.count(402) >= 1, codes
    balance, total = await relay.deps.ledger.balance_and_sum(user["_id"])
    assert balance == 10_000 + total
    assert balance >= -one, (balance, one, codes.count(200))
    lease = relay.deps.holds.leases.users[user["_id"]]
    assert lease.outstanding == 0  # every admitted request settled locally
    _period_passes(relay.deps.holds)
    await relay.deps.holds.sweep()  # idle: the lease goes back
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    assert doc.get("held", 0) == 0 and not doc.get("holds")


async def test_a_quota_of_five_cents_leased_is_passed_by_at_most_one_request(relay, pool, emu):
    for name in ("a1", "a2"):
        emu.state.patch(name, {"output_tokens": 64, "delta_interval_ms": 1})
    user = await make_user(relay.deps.storage, balance=100_000_000)
    key = await make_key(relay.deps.storage, user["_id"], "claude", spend_quota=50_000)
    async with relay.client() as http:
        codes: list[int] = []
        for wave in range(8):
            batch = await asyncio.gather(*[
                http.post("/v1/messages", headers={"x-api-key": key},
                          json={**MSG, "messages": [{"role": "user", "content": f"w{wave} {i}"}]})
                for i in range(20)])
            codes += [r.status_code for r in batch]
            await settled(relay, *batch)
    assert 402 in codes and 200 in codes
    key_doc = await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]})
    costs = [row["cost"] async for row in relay.deps.storage.db.usage.find({"key_id": key_doc["_id"]})]
    assert key_doc["totals"]["cost"] == sum(costs)
    assert key_doc["totals"]["cost"] - 50_000 < max(costs), (key_doc["totals"]["cost"], max(costs))


async def test_two_processes_never_admit_more_than_the_balance_covers(relay, pool):
    """Two processes lease from one small balance at once: the estimates admitted and not yet
    charged never exceed balance + overdraft (each renewal is a compare-and-set on ``held``)."""
    user = await make_user(relay.deps.storage, balance=50_000)  # ~47 estimates of 120 asked
    await make_key(relay.deps.storage, user["_id"], "claude")
    key_doc = await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]})
    procs = [HoldService(HoldStore(relay.deps.storage), relay.settings) for _ in range(2)]
    ctxs = [await _ctx(relay, user, key_doc, f"req_two_{i}") for i in range(120)]

    async def take(i: int) -> int:
        try:
            await procs[i % 2].take(ctxs[i])
            return ctxs[i].hold
        except InsufficientBalance:
            return 0

    admitted = await asyncio.gather(*[take(i) for i in range(120)])
    one = max(admitted)
    assert one > 0 and 0 in admitted
    assert sum(admitted) <= 50_000, (sum(admitted), one)
    # Leases shrink to what is left: at the end each process's unused part is under one estimate.
    assert sum(admitted) > 50_000 - 3 * one, (sum(admitted), one)
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    # At most one lease per process (which process ends up with the last of a small balance
    # depends on timing: the other one refuses meanwhile, see README "Budget leases" (4)).
    assert doc["held"] <= 50_000 and 1 <= len(doc["holds"]) <= 2
    for proc in procs:  # what each process admits against is what the document sets aside for it
        lease = proc.leases.users[user["_id"]]
        assert doc["holds"].get(proc.leases.hold_id, {}).get("a", 0) == lease.amount >= lease.used


async def test_disabling_takes_effect_at_the_next_renewal(relay, pool):
    user = await make_user(relay.deps.storage)
    key = await make_key(relay.deps.storage, user["_id"], "claude")
    async with relay.client() as http:
        assert (await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})).status_code == 200
        await relay.deps.storage.db.users.update_one({"_id": user["_id"]}, {"$set": {"status": "disabled"}})
        relay.deps.keys.invalidate(user_id=user["_id"])  # the key cache is not what this test is about
        _period_passes(relay.deps.holds)
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})
    assert r.status_code == 403


async def test_a_crashed_process_lease_is_released_by_repair_and_replays_settle_nothing(relay, pool):
    user = await make_user(relay.deps.storage, balance=1_000_000)
    await make_key(relay.deps.storage, user["_id"], "claude")
    key_doc = await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]})
    dead = HoldService(HoldStore(relay.deps.storage), relay.settings)
    ctx = await _ctx(relay, user, key_doc, "req_dead_1")
    await dead.take(ctx)
    doc = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    assert doc["held"] >= ctx.hold and list(doc["holds"]) == [dead.leases.hold_id]
    # The process dies. Its record is replayed by another process (the crash journal).
    rule = await relay.deps.prices.find(MSG["model"])
    record = UsageRecord(request_id=ctx.request_id, user_id=user["_id"], key_id=key_doc["_id"],
                         group="claude",
                         model=MSG["model"], usage=Usage(input=3, output=5), rule=rule, hold=ctx.hold)
    await relay.deps.charges.charge_many([record])  # settles nothing of the dead lease
    assert (await relay.deps.storage.db.users.find_one({"_id": user["_id"]}))["held"] == doc["held"]
    assert await relay.deps.holds.repair() == 0  # a lease is not a request: only its expiry frees it
    await relay.deps.storage.db.users.update_one(
        {"_id": user["_id"]}, {"$set": {f"holds.{dead.leases.hold_id}.x": time.time() - 1}})
    assert await relay.deps.holds.repair() >= 1
    after = await relay.deps.storage.db.users.find_one({"_id": user["_id"]})
    assert after["held"] == 0 and not after.get("holds")
    balance, total = await relay.deps.ledger.balance_and_sum(user["_id"])
    assert balance == 1_000_000 + total < 1_000_000


async def test_a_lease_in_use_is_extended_not_dropped(relay, pool):
    user = await make_user(relay.deps.storage, balance=1_000_000)
    await make_key(relay.deps.storage, user["_id"], "claude")
    key_doc = await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]})
    holds = relay.deps.holds
    ctx = await _ctx(relay, user, key_doc, "req_long_stream")
    await holds.take(ctx)
    before = (await relay.deps.storage.db.users.find_one({"_id": user["_id"]}))["holds"][holds.leases.hold_id]
    _period_passes(holds)
    await holds.sweep()
    after = (await relay.deps.storage.db.users.find_one({"_id": user["_id"]}))["holds"][holds.leases.hold_id]
    assert after["a"] == before["a"] and after["x"] >= before["x"]
    with pytest.raises(KeyError):
        holds.leases.open.pop("req_nobody")
    assert holds.leases.close(ctx.request_id) and holds.leases.users[user["_id"]].outstanding == 0
