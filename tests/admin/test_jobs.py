"""Background jobs: the lease (one run per interval across processes, tested with two app
instances on one database), a failing job that does not stop the scheduler, and each job
function called directly."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from server.billing.charges import UsageRecord
from server.pricing.pricing import PriceRule
from server.pricing.usage import Usage
from server.jobs.leases import LeaseStore
from server.storage.rollup_recompute import bucket_start, roll_up
from server.storage.usage_filters import TimeForm, UsageFilters
from server.jobs.scheduler import Scheduler
from server.storage.ledger import make_entry, utcnow
from tests.relay.support import make_user
from tests.support import RelayUnderTest

RULE = PriceRule.build("job-model", 1_000_000, 2_000_000)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_lease_is_exclusive_renewable_and_expires(storage):
    clock = FakeClock()
    a, b = LeaseStore(storage, "A", clock), LeaseStore(storage, "B", clock)
    assert await a.acquire("job:x", 60) is True
    assert await b.acquire("job:x", 60) is False
    assert await a.acquire("job:x", 60) is True  # the holder renews
    assert await a.holder("job:x") == "A"
    clock.now += 61
    assert await a.holder("job:x") is None
    assert await b.acquire("job:x", 60) is True
    assert await a.acquire("job:x", 60) is False
    await b.release("job:x")
    assert await a.acquire("job:x", 60) is True
    # Racing first takers: exactly one wins the insert.
    results = await asyncio.gather(*(LeaseStore(storage, f"P{i}", clock).acquire("job:new", 60) for i in range(5)))
    assert sorted(results) == [False] * 4 + [True]


async def test_two_instances_run_each_job_once_per_interval(relay, storage):
    one = relay  # the module's app, and a second one on the same database
    two = await RelayUnderTest.start(storage)
    try:
        ran: list[str] = []
        for name, server in (("one", one), ("two", two)):
            server.deps.scheduler.add("count", lambda n=name: _note(ran, n), 60)
        outcomes = [await one.deps.scheduler.run_job("count"), await two.deps.scheduler.run_job("count")]
        assert outcomes == [True, False] and ran == ["one"]
        assert two.deps.scheduler.jobs["count"].skipped == 1
        # A real job too: only one instance purges sticky mappings this interval.
        assert await one.deps.scheduler.run_job("sticky_cleanup") is True
        assert await two.deps.scheduler.run_job("sticky_cleanup") is False
        # Once the lease lapses (the first process died), the other takes over.
        await storage.db.leases.update_one({"_id": "job:count"}, {"$set": {"expires_at": 0.0}})
        assert await two.deps.scheduler.run_job("count") is True and ran == ["one", "two"]
    finally:
        await two.stop()


async def _note(ran: list[str], name: str) -> None:
    ran.append(name)


async def test_failing_job_does_not_stop_the_scheduler(storage):
    scheduler = Scheduler(LeaseStore(storage, "solo"))
    ticks: list[float] = []
    booms: list[float] = []
    enough = asyncio.Event()

    def check() -> None:
        # A fourth call of boom means the first three failures have been recorded.
        if len(booms) >= 4 and len(ticks) >= 3:
            enough.set()

    async def boom() -> None:
        booms.append(1)
        check()
        raise RuntimeError("job exploded")

    async def tick() -> None:
        ticks.append(1)
        check()

    scheduler.add("boom", boom, 0.1)
    scheduler.add("tick", tick, 0.1, lease=False)
    scheduler.start()
    try:
        await asyncio.wait_for(enough.wait(), 20)
    finally:
        await scheduler.stop()
    boom_info = scheduler.jobs["boom"]
    assert boom_info.runs >= 3 and boom_info.failures == boom_info.runs
    assert "job exploded" in boom_info.last_error and len(ticks) >= 3
    assert not scheduler.running
    status = {s["name"]: s for s in scheduler.status()}
    assert status["boom"]["last_error"].startswith("RuntimeError")


def _record(user_id: str, ts: dt.datetime, **kw) -> UsageRecord:
    return UsageRecord(request_id=kw.pop("request_id"), user_id=user_id, key_id="key_jobs", group="claude",
                       model="job-model", usage=Usage(input=1000, output=500), rule=RULE, ts=ts,
                       account_id="ups_jobs", account_name="jobs", multiplier_ppm=2_000_000, **kw)


async def test_rollups_and_retention(relay):
    user = await make_user(relay.deps.storage)
    now = utcnow() - dt.timedelta(hours=1)  # the job recomputes the hour that just closed
    old = now - dt.timedelta(days=120)
    for i, ts in enumerate((now, now, old)):
        await relay.deps.charges.charge(_record(user["_id"], ts, request_id=f"req_job_{i}"))
    hour = bucket_start(now, "hour").isoformat()
    live = await relay.deps.storage.db.rollups.find_one({"_id": f"hour:{hour}:user:{user['_id']}"})
    assert live["requests"] == 2 and live["cost"] == 8000  # added as the usage was written
    jobs = relay.deps.scheduler.jobs
    result = await jobs["rollups"].func()
    assert result["written"] >= 5
    doc = await relay.deps.storage.db.rollups.find_one({"_id": f"hour:{hour}:user:{user['_id']}"})
    # Per request: 1000 in × 1 + 500 out × 2 (per million tokens) = 2000 micro, ×2 for the group.
    assert doc["requests"] == 2 and doc["errors"] == 0 and doc["tokens_input"] == 2000
    assert doc["cost"] == 8000 and doc["upstream_cost"] == 4000
    day = await relay.deps.storage.db.rollups.find_one({"_id": f"day:{bucket_start(now, 'day').isoformat()}:model:job-model"})
    assert day["requests"] >= 2
    assert result["already"] is False and result["hour"] == hour
    again = await jobs["rollups"].func()  # an hour is recomputed once
    assert again == {"written": 0, "hour": hour, "already": True}
    # The recompute itself is idempotent: same ids, same numbers, by reading or by aggregating.
    assert await roll_up(relay.deps.storage, "hour", now) == result["written"]
    assert (await relay.deps.storage.db.rollups.find_one({"_id": doc["_id"]}))["requests"] == 2
    scan = UsageFilters(relay.deps.storage)
    scan._form = TimeForm.SCAN
    assert await roll_up(relay.deps.storage, "hour", now, scan) == result["written"]
    assert (await relay.deps.storage.db.rollups.find_one({"_id": doc["_id"]}))["tokens_input"] == 2000
    deleted = await jobs["retention"].func()
    assert deleted == {"deleted": 1}
    assert await relay.deps.storage.db.usage.count_documents({"user_id": user["_id"]}) == 2
    assert await relay.deps.storage.db.rollups.find_one({"_id": doc["_id"]}) is not None


async def test_cleanup_jobs(relay):
    storage, jobs = relay.deps.storage, relay.deps.scheduler.jobs
    past = utcnow() - dt.timedelta(hours=1)
    future = utcnow() + dt.timedelta(hours=1)
    await relay.deps.sticky.put("s-old", "a")
    await relay.deps.sticky.put("s-new", "a")
    await storage.db.sticky.update_one({"_id": "s-old"}, {"$set": {"expires_at": time.time() - 60}})
    assert await jobs["sticky_cleanup"].func() == {"deleted": 1, "context_marks": 0}
    await storage.db.rate_windows.insert_many([{"_id": "r:k:1", "n": 1, "expires_at": time.time() - 60},
                                            {"_id": "r:k:2", "n": 1, "expires_at": time.time() + 60}])
    assert await jobs["rate_windows"].func() == {"deleted": 1}
    await storage.db.redeem_codes.insert_many([
        {"_id": "rdc_old", "code": "OLD", "amount": 1, "status": "active", "expires_at": past},
        {"_id": "rdc_new", "code": "NEW", "amount": 1, "status": "active", "expires_at": future},
        {"_id": "rdc_none", "code": "NONE", "amount": 1, "status": "active", "expires_at": None}])
    assert await jobs["expired_codes"].func() == {"expired": 1}
    assert (await storage.db.redeem_codes.find_one({"_id": "rdc_old"}))["status"] == "expired"
    assert (await storage.db.redeem_codes.find_one({"_id": "rdc_none"}))["status"] == "active"
    now = time.time()
    await storage.db.login_attempts.insert_many([
        {"_id": "acct:old@example.test", "failures": 3, "last_failure": now - 7200, "locked_until": now - 7000},
        {"_id": "ip:192.0.2.1", "failures": 9, "last_failure": now - 7200, "locked_until": now + 600},
        {"_id": "acct:new@example.test", "failures": 1, "last_failure": now - 10, "locked_until": 0.0}])
    assert await jobs["login_attempts"].func() == {"deleted": 1}
    assert await storage.db.login_attempts.find_one({"_id": "acct:old@example.test"}) is None


async def test_ledger_repair_job(relay):
    user = await make_user(relay.deps.storage, balance=0)
    recent = make_entry("adj_recent", user["_id"], 5, "adjustment", ts=utcnow() - dt.timedelta(minutes=5))
    entry = make_entry("adj_halfway", user["_id"], 7, "adjustment",
                       ts=utcnow() - dt.timedelta(minutes=15))
    await relay.deps.storage.db.ledger.insert_many([recent, entry])  # crashes before step 2
    result = await relay.deps.scheduler.jobs["ledger_repair"].func()
    assert result["repaired"] >= 1
    # The recent one may belong to a flush still writing its rows: it waits out the grace.
    assert (await relay.deps.user_store.get(user["_id"]))["balance"] == 7
    assert (await relay.deps.storage.db.ledger.find_one({"_id": "adj_recent"}))["applied"] is False


async def test_health_probe_job_brings_cooled_accounts_back(relay, emu):
    upstreams = relay.deps.upstreams
    cooled = await upstreams.create({"name": "probe-cool", "groups": ["claude"], "protocol": "anthropic",
                                     "base_url": emu.base_url, "api_key": "emu-key-e1"})
    off = await upstreams.create({"name": "probe-off", "groups": ["claude"], "protocol": "anthropic",
                                  "base_url": "http://127.0.0.1:9", "api_key": "emu-key-e2", "enabled": False})
    limited = await upstreams.create({"name": "probe-429", "groups": ["claude"], "protocol": "anthropic",
                                      "base_url": emu.base_url, "api_key": "emu-key-e3"})
    await upstreams.set_state(cooled["_id"], "cooling", "connect", 4e9, kind="transport")
    await upstreams.set_state(limited["_id"], "cooling", "429", 4e9, kind="status")
    before = emu.state.requests.get("e3", 0)
    result = await relay.deps.scheduler.jobs["health_probes"].func()
    assert result["probed"] >= 1 and result["ok"] >= 1
    assert (await upstreams.get(cooled["_id"]))["state"]["status"] == "healthy"
    # A rest with a reset time (a 429's retry-after) is kept, and the account is not even probed.
    assert (await upstreams.get(limited["_id"]))["state"]["status"] == "cooling"
    assert emu.state.requests.get("e3", 0) == before
    await upstreams.delete(limited["_id"])
    assert (await upstreams.get(off["_id"]))["state"]["status"] == "healthy"  # untouched: not probed
    assert relay.deps.pools.accounts[cooled["_id"]].status == "healthy"
