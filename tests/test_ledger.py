"""The ledger's invariant (balance == Σ applied entries) under concurrency, crash injection
between the two steps, and the idempotent charge."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from server.billing.charges import ChargeService, UsageRecord
from server.pricing.pricing import PriceRule
from server.pricing.usage import Usage
from server.ids import new_id
from server.storage.ledger import LedgerStore, make_entry

RULE = PriceRule.build("claude-sonnet-4*", input=3_000_000, output=15_000_000)


async def _user(storage, balance=0):
    uid = new_id("usr")
    await storage.db.users.insert_one({"_id": uid, "email": uid + "@x.io", "username": uid, "balance": balance})
    return uid


def _record(uid, request_id=None, usage=Usage(input=1000, output=200)):
    return UsageRecord(request_id=request_id or new_id("req"), user_id=uid, key_id="key_1",
                       group="claude", model="claude-sonnet-4-5", usage=usage, rule=RULE)


async def test_post_is_idempotent(storage):
    ledger = LedgerStore(storage)
    uid = await _user(storage)
    entry = make_entry("rch_fixed1", uid, 5_000_000, "recharge")
    first = await ledger.post(dict(entry))
    again = await ledger.post(dict(entry))
    assert first["balance_after"] == again["balance_after"] == 5_000_000
    assert await ledger.balance_and_sum(uid) == (5_000_000, 5_000_000)


async def test_concurrent_charges_and_recharges_reconcile(storage):
    ledger = LedgerStore(storage)
    charges = ChargeService(storage, ledger)
    uid = await _user(storage)
    recharges = [ledger.post(make_entry(new_id("rch"), uid, 1_000_000, "recharge")) for _ in range(100)]
    records = [_record(uid) for _ in range(100)]
    # 100 charges of 6000 micro each, plus 20 duplicates of already-issued request ids.
    dup = [charges.charge(records[i]) for i in range(20)]
    await asyncio.gather(*recharges, *[charges.charge(r) for r in records], *dup)
    balance, total = await ledger.balance_and_sum(uid)
    assert balance == total == 100 * 1_000_000 - 100 * 6_000
    assert await storage.db.usage.count_documents({"user_id": uid}) == 100
    assert await storage.db.ledger.count_documents({"user_id": uid, "type": "charge"}) == 100


async def test_batched_charges_reconcile_and_are_idempotent(storage):
    ledger = LedgerStore(storage)
    charges = ChargeService(storage, ledger)
    uids = [await _user(storage, 0) for _ in range(3)]
    records = [_record(uids[i % 3]) for i in range(60)]
    await asyncio.gather(charges.charge_many(records[:30]), charges.charge_many(records[30:]))
    await charges.charge_many(records[10:40])  # a re-driven flush: nothing changes
    for uid in uids:
        balance, total = await ledger.balance_and_sum(uid)
        assert balance == total == -20 * 6_000
    assert await storage.db.usage.count_documents({"user_id": {"$in": uids}}) == 60


async def test_charge_same_request_twice_is_a_noop(storage):
    charges = ChargeService(storage, LedgerStore(storage))
    uid = await _user(storage, 1_000_000)
    record = _record(uid, request_id="req_same")
    first = await charges.charge(record)
    second = await charges.charge(record)
    assert first["cost"] == second["cost"] == 6_000
    user = await storage.db.users.find_one({"_id": uid})
    assert user["balance"] == 994_000
    assert await storage.db.ledger.count_documents({"ref": "req_same"}) == 1


async def test_crash_between_insert_and_apply_is_repaired(storage):
    ledger = LedgerStore(storage)
    uid = await _user(storage)
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    # Step 1 happened, the process died before step 2.
    await storage.db.ledger.insert_one(make_entry("rch_crash1", uid, 2_000_000, "recharge", ts=old))
    assert await ledger.balance_and_sum(uid) == (0, 0)
    assert await ledger.repair_pending(older_than=60) == 1
    assert await ledger.balance_and_sum(uid) == (2_000_000, 2_000_000)
    assert await ledger.repair_pending(older_than=60) == 0


async def test_crash_between_apply_and_mark_is_repaired_without_double_count(storage):
    ledger = LedgerStore(storage)
    uid = await _user(storage)
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    entry = make_entry("rch_crash2", uid, 3_000_000, "recharge", ts=old)
    await storage.db.ledger.insert_one(entry)
    # Balance moved and mark set, but the entry was never flagged applied.
    await storage.db.users.update_one({"_id": uid}, {"$inc": {"balance": 3_000_000},
                                                  "$set": {"ledger_marks.rch_crash2": old}})
    await asyncio.gather(*[ledger.repair_pending(older_than=60) for _ in range(5)])
    assert await ledger.balance_and_sum(uid) == (3_000_000, 3_000_000)


async def test_prune_marks_keeps_recent_ones(storage):
    ledger = LedgerStore(storage)
    uid = await _user(storage)
    await ledger.post(make_entry("rch_p1", uid, 1, "recharge"))
    assert await ledger.prune_marks([uid], older_than=3600) == 0
    assert await ledger.prune_marks([uid], older_than=-1) == 1
    user = await storage.db.users.find_one({"_id": uid})
    assert user["ledger_marks"] == {} and user["balance"] == 1


def test_entries_are_integers_with_known_types():
    with pytest.raises(TypeError):
        make_entry("x", "u", 1.5, "charge")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_entry("x", "u", 1, "gift")
    with pytest.raises(ValueError):
        make_entry("a.b", "u", 1, "charge")


async def test_a_flush_writes_one_entry_per_user_carrying_the_sum_of_its_rows(storage):
    ledger = LedgerStore(storage)
    charges = ChargeService(storage, ledger)
    uid = await _user(storage, 1_000_000)
    records = [_record(uid) for _ in range(5)]
    exhausted = []
    charges.on_exhausted = exhausted.append
    await charges.charge_many(records)
    rows, total = await ledger.list_for_user(uid, limit=10, offset=0)
    assert total == 1 and rows[0]["amount"] == -30_000 and rows[0]["balance_after"] == 970_000
    assert rows[0]["rows"] == 5 and rows[0]["applied"]
    linked = await ledger.flush_rows(uid, rows[0]["_id"])
    assert sorted(r["_id"] for r in linked) == sorted(r.request_id for r in records)
    assert sum(r["cost"] for r in linked) == 30_000
    assert exhausted == []
    await charges.charge_many([_record(uid, usage=Usage(output=100_000))])  # $1.50: below zero
    assert exhausted == [uid]


async def test_a_flush_adds_one_mark_per_user_not_per_request(storage):
    ledger = LedgerStore(storage)
    charges = ChargeService(storage, ledger)
    uid = await _user(storage, 10_000_000)
    await charges.charge_many([_record(uid) for _ in range(50)])
    user = await storage.db.users.find_one({"_id": uid})
    assert len(user["ledger_marks"]) == 1
    balance, total = await ledger.balance_and_sum(uid)
    assert balance == 10_000_000 + total == 10_000_000 - 50 * 6_000


async def test_crash_inside_a_batch_is_repaired_once(storage):
    ledger = LedgerStore(storage)
    uid = await _user(storage)
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    rows = [make_entry(f"chg_batchcrash{i}", uid, -1_000, "charge", ts=old) for i in range(3)]
    for row in rows:
        row["batch"] = "bat_crash"
    await storage.db.ledger.insert_many(rows)  # step 1 of a flush; the process died before step 2
    await asyncio.gather(*[ledger.repair_pending(older_than=60) for _ in range(4)])
    balance, total = await ledger.balance_and_sum(uid)
    assert balance == total == -3_000
    after = sorted([r["balance_after"] async for r in storage.db.ledger.find({"batch": "bat_crash"})])
    assert after == [-3_000, -2_000, -1_000]
    assert await ledger.prune_marks([uid], older_than=-1) == 1


async def test_usage_flushes_keep_hourly_and_daily_rollups(storage):
    from server.storage.rollups import RollupStore, bucket_start

    charges = ChargeService(storage, LedgerStore(storage))
    uid = await _user(storage, 1_000_000)
    records = [_record(uid) for _ in range(7)]
    await charges.charge_many(records)
    await charges.charge_many(records)  # re-driven: counted once
    now = records[0].ts
    rollups = RollupStore(storage)
    hour = (await rollups.buckets("hour", [now], "user", uid))[bucket_start(now, "hour").isoformat()]
    assert hour["requests"] == 7 and hour["cost"] == 7 * 6_000 and hour["tokens"]["output"] == 7 * 200
    everyone = (await rollups.buckets("day", [now]))[bucket_start(now, "day").isoformat()]
    assert everyone["requests"] >= 7 and everyone["upstream_cost"] >= 7 * 6_000


class Crash(Exception):
    """The process dies here."""


STEPS = ("shells", "rows", "moved", "closed")


def _crash_after(ledger, step):
    """Make ``ledger`` die right after ``step`` of a flush (once)."""
    names = {"shells": "open_flush_entries", "rows": "insert_usage_rows", "moved": "_move",
             "closed": "close_flush_entry"}
    real = getattr(ledger, names[step])

    async def dying(*args, **kwargs):
        await real(*args, **kwargs)
        raise Crash(step)

    setattr(ledger, names[step], dying)


async def _assert_charged_once(storage, ledger, uid, request_ids, cost_each):
    """Balance == Σ applied == −Σ row costs; every row named by exactly one applied entry whose
    amount is the sum of its rows; nothing left half-way."""
    balance, total = await ledger.balance_and_sum(uid)
    assert balance == total == -cost_each * len(request_ids)
    assert await storage.db.ledger.count_documents({"user_id": uid, "applied": False}) == 0
    rows = [r async for r in storage.db.usage.find({"user_id": uid})]
    assert sorted(r["_id"] for r in rows) == sorted(request_ids)
    entries = {e["_id"]: e async for e in storage.db.ledger.find({"user_id": uid})}
    assert all(e["applied"] for e in entries.values())
    for entry_id, entry in entries.items():
        named = [r for r in rows if r["ledger_id"] == entry_id]
        assert named and entry["amount"] == -sum(r["cost"] for r in named) and entry["rows"] == len(named)
    assert {r["ledger_id"] for r in rows} <= set(entries)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("then", ["repair", "retry", "replay_then_repair", "repair_then_replay"])
async def test_batched_entry_survives_a_crash_at_every_step(storage, step, then):
    """A flush dies after each of its steps; the repair job, a retry of the same flush and a
    replay of the same request ids in other batches (the crash journal), in any order, end with
    every request charged exactly once."""
    ledger = LedgerStore(storage)
    charges = ChargeService(storage, ledger)
    uid = await _user(storage)
    records = [_record(uid) for _ in range(6)]
    _crash_after(ledger, step)
    with pytest.raises(Crash):
        await charges.charge_many(records)
    # A new process: fresh services; replayed records know nothing of the first batch.
    ledger2 = LedgerStore(storage)
    charges2 = ChargeService(storage, ledger2)
    replay = [UsageRecord(**{**r.__dict__, "batch": None, "_cost": None}) for r in records]
    extra = [_record(uid) for _ in range(2)]
    if then == "repair":
        await ledger2.repair_pending(older_than=-1)
    elif then == "retry":  # the same process retries the same flush (its records keep their entry)
        charges.ledger = ledger2
        await charges.charge_many(records)
    elif then == "replay_then_repair":
        await charges2.charge_many(replay[:4] + extra[:1])
        await charges2.charge_many(replay[4:] + extra[1:])
        await ledger2.repair_pending(older_than=-1)
    else:
        await ledger2.repair_pending(older_than=-1)
        await charges2.charge_many(replay[3:] + extra + replay[:3])
    await ledger2.repair_pending(older_than=-1)  # a later pass changes nothing
    ids = [r.request_id for r in records] + ([r.request_id for r in extra] if "replay" in then else [])
    if step == "shells" and then == "repair":
        ids = []  # died before any row: those records are lost with the process (no journal here)
    await _assert_charged_once(storage, ledger2, uid, ids, 6_000)


async def test_a_request_replayed_in_another_batch_is_never_charged_twice(storage):
    ledger = LedgerStore(storage)
    charges = ChargeService(storage, ledger)
    uid, other = await _user(storage), await _user(storage)
    records = [_record(uid) for _ in range(4)]
    await charges.charge_many(records)
    mixed = [UsageRecord(**{**r.__dict__, "batch": None, "_cost": None}) for r in records[1:3]]
    await charges.charge_many(mixed + [_record(other)])
    await charges.charge(UsageRecord(**{**records[0].__dict__, "batch": None, "_cost": None}))
    await _assert_charged_once(storage, ledger, uid, [r.request_id for r in records], 6_000)
    assert await storage.db.ledger.count_documents({"user_id": uid}) == 1


async def test_a_flush_writes_about_one_document_per_request(embedded_db, storage):
    """Counted with a PyMongo command listener (nx-27017 has no opcounters): 200 requests of 2
    users over 2 keys cost their 200 usage rows plus a few writes per user, key and roll-up."""
    from pymongo import monitoring

    from server.storage.db import Storage

    class Writes(monitoring.CommandListener):
        def __init__(self):
            self.docs = 0

        def started(self, event):
            cmd = event.command
            name = event.command_name
            if name == "insert":
                self.docs += len(cmd.get("documents", []))
            elif name == "update":
                self.docs += len(cmd.get("updates", []))
            elif name == "delete":
                self.docs += len(cmd.get("deletes", []))
            elif name in ("findAndModify", "findandmodify"):
                self.docs += 1

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    writes = Writes()
    counted = Storage.connect(embedded_db.url, storage.db.name, event_listeners=[writes])
    try:
        charges = ChargeService(counted, LedgerStore(counted))
        uids = [await _user(storage, 10_000_000) for _ in range(2)]
        records = [_record(uids[i % 2]) for i in range(200)]
        for i, record in enumerate(records):
            record.key_id = f"key_{i % 2}"
        await charges.charge_many(records)
    finally:
        await counted.close()
    # 200 rows + per user (shell, balance, close) + per key totals + roll-up buckets.
    assert writes.docs <= 200 * 1.15, writes.docs
    for uid in uids:
        balance, total = await LedgerStore(storage).balance_and_sum(uid)
        assert balance == 10_000_000 + total == 10_000_000 - 100 * 6_000


def _partial_then(ledger, error: Exception):
    """The first usage insert lands only its first row, then fails with ``error``."""
    original = ledger.insert_usage_rows
    calls = {"n": 0}

    async def insert(docs):
        calls["n"] += 1
        if calls["n"] == 1:
            await original(docs[:1])
            raise error
        return await original(docs)
    ledger.insert_usage_rows = insert


async def _every_row_charged_once(storage, ledger, uid, records):
    rows = [r async for r in storage.db.usage.find({"user_id": uid})]
    assert sorted(r["_id"] for r in rows) == sorted(r.request_id for r in records)
    balance, total = await ledger.balance_and_sum(uid)
    assert balance == total == -sum(r["cost"] for r in rows)


async def test_batch_retried_one_by_one_charges_every_record(storage):
    """A batch that fails after part of its rows landed is written record by record: the first
    record's charge must not close the entry without the others (they were lost so)."""
    from server.relay.recorder import UsageRecorder

    ledger = LedgerStore(storage)
    uid = await _user(storage)
    _partial_then(ledger, ValueError("a bad document"))
    recorder = UsageRecorder(ChargeService(storage, ledger), interval=1)
    records = [_record(uid) for _ in range(3)]
    for record in records:
        recorder.record(record)
    await recorder.flush()
    await _every_row_charged_once(storage, ledger, uid, records)


async def test_batch_retried_after_repair_closed_its_entry(storage):
    """A kept batch retried long after a transient error: repair closed its entry from the
    rows that existed then and its mark was pruned. The retry neither charges those again nor
    loses the rest."""
    from pymongo.errors import AutoReconnect

    ledger = LedgerStore(storage)
    charges = ChargeService(storage, ledger)
    uid = await _user(storage)
    _partial_then(ledger, AutoReconnect("stalled mid insert"))
    records = [_record(uid) for _ in range(3)]
    with pytest.raises(AutoReconnect):
        await charges.charge_many(records)
    await ledger.repair_pending(older_than=-1)  # the grace has passed
    await ledger.prune_marks(older_than=-1)  # and the closed entry's mark is gone
    await charges.charge_many(records)  # the recorder's retry of the kept batch
    await _every_row_charged_once(storage, ledger, uid, records)


async def test_one_request_twice_in_a_flush_is_charged_once(storage):
    """A journal replayed beside the live queue can put one request in a flush twice."""
    ledger = LedgerStore(storage)
    uid = await _user(storage)
    record = _record(uid)
    await ChargeService(storage, ledger).charge_many([record, _record(uid, record.request_id)])
    await _every_row_charged_once(storage, ledger, uid, [record])
