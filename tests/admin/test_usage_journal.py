"""The local usage journal and the records set aside: a journal line bills exactly what the live
flush would (tiers, variants, multiplier), replaying it is idempotent, the file is emptied of
what the database has, and a record the database refuses is kept on disk and re-driven by an
operator over the admin API."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from decimal import Decimal

import orjson
import pytest

from server.billing.charges import UsageRecord, usage_doc
from server.billing.journal import UsageJournal, from_entry, parse_lines, to_line
from server.pricing.pricing import PriceRule
from server.pricing.usage import Usage
from server.ids import new_id
from server.relay.recorder import UsageRecorder
from server.runtime import Runtime
from server.settings import Settings
from server.storage.db import Storage
from server.storage.ledger import LedgerStore
from tests.admin.support import ok
from tests.conftest import TEST_SECRETS_KEY
from tests.relay.support import make_user


def _record(uid: str, rule, usage: Usage, multiplier_ppm: int = 1_500_000, **fields) -> UsageRecord:
    return UsageRecord(request_id=new_id("req"), user_id=uid, key_id="key_journal", group="claude",
                       model=fields.pop("model", "claude-sonnet-4-5"), usage=usage, rule=rule,
                       multiplier_ppm=multiplier_ppm, hold=1234, repairs=["r"], **fields)


@pytest.fixture
def journal(tmp_path):
    j = UsageJournal.open(tmp_path, 0)
    yield j
    j.close()


async def _rules(relay):
    await relay.deps.prices.seed_if_empty()
    rules = await relay.deps.prices.rules()
    tiered = next(r for r in rules if r.tiers is not None and r.tiers.tiers)
    variant = next(r for r in rules if r.variants)
    return tiered, variant


async def test_a_line_prices_exactly_as_the_live_record(relay):
    tiered, variant = await _rules(relay)
    big = Usage(input=300_000, output=1234, cache_read=50_000, cache_write_5m=7, web_search_requests=3)
    when = dict(variant.variants[0].when)
    fancy = Usage(input=1000, output=99, service_tier=when.get("service_tier", ""), speed=when.get("speed", ""),
                  estimate="message_start")
    for rule, usage in ((tiered, big), (variant, fancy)):
        record = _record("usr_x", rule, usage, ttft_ms=12, account_name="a1", user_agent="ua " * 200)
        restored = from_entry(orjson.loads(to_line(record)))
        live, again = usage_doc(record, record.cost()), usage_doc(restored, restored.cost())
        assert orjson.loads(orjson.dumps(again)) == orjson.loads(orjson.dumps(live))
        assert restored.base_cost() == record.base_cost() and restored.hold == 1234
        assert live["cost"] > 0 and (live["pricing"]["tier"] or live["pricing"]["variant"])


async def test_flush_empties_the_journal_but_keeps_what_is_not_queued(relay, journal):
    user = await make_user(relay.deps.storage, balance=10_000_000)
    rule = await relay.deps.prices.find("claude-sonnet-4-5")
    recorder = UsageRecorder(relay.deps.charges, 3600, journal=journal)
    records = [_record(user["_id"], rule, Usage(input=100, output=10)) for _ in range(5)]
    for record in records[:4]:
        recorder.record(record)
    recorder.journal_append(records[4])  # answered, not queued yet (the handler queues it next)
    assert len(parse_lines(journal.path.read_bytes())) == 5
    await recorder.flush()
    kept = parse_lines(journal.path.read_bytes())
    assert [e["doc"]["request_id"] for e in kept] == [records[4].request_id]
    recorder.record(records[4], journaled=True)
    await recorder.flush()
    assert journal.path.read_bytes() == b""
    assert await relay.deps.storage.db.usage.count_documents({"user_id": user["_id"]}) == 5


async def test_replay_bills_each_request_once(relay, tmp_path):
    storage = relay.deps.storage
    user = await make_user(storage, balance=10_000_000)
    rule = await relay.deps.prices.find("claude-sonnet-4-5")
    records = [_record(user["_id"], rule, Usage(input=1000, output=100 + i)) for i in range(6)]
    await relay.deps.charges.charge_many(records[:2])  # flushed before the crash
    first = UsageJournal.open(tmp_path, 3)
    for record in records:
        first.append(record)
    first.append(records[5])  # a line written twice changes nothing either
    first.close()  # the process is gone; its lock with it
    for _ in range(2):  # and a replay that is itself replayed
        journal = UsageJournal.open(tmp_path, 3)
        recorder = UsageRecorder(relay.deps.charges, 3600, journal=journal)
        replayed = journal.read()
        assert sorted(r.request_id for r in replayed) == sorted(r.request_id for r in records)
        recorder.restore(replayed)
        await recorder.flush()
        journal.close()
        if _ == 0:
            (tmp_path / "usage-journal-3.jsonl").write_bytes(b"".join(to_line(r) for r in records))
    assert (tmp_path / "usage-journal-3.jsonl").read_bytes() == b""
    ids = [r.request_id for r in records]
    assert await storage.db.usage.count_documents({"request_id": {"$in": ids}}) == 6
    # Each row names the one flush entry that charged it (issue 15); those entries carry exactly
    # the rows' sum: every request charged once, however many times it was replayed.
    rows = [r async for r in storage.db.usage.find({"request_id": {"$in": ids}})]
    named = sorted({r["ledger_id"] for r in rows})
    entries = [e async for e in storage.db.ledger.find({"_id": {"$in": named}})]
    assert len(entries) == len(named) and all(e["applied"] and e["type"] == "charge" for e in entries)
    assert sum(e["amount"] for e in entries) == -sum(r["cost"] for r in rows)
    balance, total = await LedgerStore(storage).balance_and_sum(user["_id"])
    assert balance == 10_000_000 - sum(r.cost().total for r in records)
    assert total == -sum(r.cost().total for r in records)


def test_a_live_journal_is_not_shared(tmp_path):
    one = UsageJournal.open(tmp_path, 0)
    two = UsageJournal.open(tmp_path, 0)  # a second relay on the same data directory
    try:
        assert one.path != two.path and two.path.name.startswith("usage-journal-0-")
    finally:
        one.close()
        two.close()


async def test_refused_record_is_kept_on_disk_and_re_driven(relay, admin, journal):
    storage = relay.deps.storage
    user = await make_user(storage, balance=10_000_000)
    rule = await relay.deps.prices.find("claude-sonnet-4-5")
    recorder = UsageRecorder(relay.deps.charges, 3600, journal=journal)
    good = _record(user["_id"], rule, Usage(input=100, output=10))
    # A value BSON cannot encode (a bug upstream of the recorder, say): this row is refused.
    refused = replace(_record(user["_id"], rule, Usage(input=100, output=10)), repairs=[Decimal("1.5")])
    recorder.record(good)
    recorder.record(refused)
    await recorder.flush()
    entries = journal.set_aside_entries()
    assert [e["doc"]["request_id"] for e in entries] == [refused.request_id] and entries[0]["error"]
    assert journal.path.read_bytes() == b""  # durable in the set-aside file, not lost with the journal
    assert await storage.db.usage.count_documents({"request_id": {"$in": [good.request_id, refused.request_id]}}) == 1
    broken = {"doc": {"request_id": "req_unreadable"}, "error": "from an older version"}
    with journal.set_aside_path.open("ab") as handle:  # as an older version might have left it
        handle.write(orjson.dumps(broken) + b"\n")
    relay.deps.recorder.journal, before = journal, relay.deps.recorder.journal
    try:
        listed = ok(await admin.get("/api/admin/usage/set-aside"))
        assert listed["total"] == 2 and {r["request_id"] for r in listed["data"]} == {refused.request_id,
                                                                                    "req_unreadable"}
        done = ok(await admin.post("/api/admin/usage/set-aside/redrive"))
        assert done["written"] == 1 and done["failed"] == 1 and "KeyError" in done["errors"][0]
        left = ok(await admin.get("/api/admin/usage/set-aside"))
        assert [r["request_id"] for r in left["data"]] == ["req_unreadable"]  # kept, with its new error
        again = ok(await admin.post("/api/admin/usage/set-aside/redrive"))
        assert again["written"] == 0 and again["failed"] == 1
    finally:
        relay.deps.recorder.journal = before
    row = await storage.db.usage.find_one({"request_id": refused.request_id})
    assert row is not None and row["repairs"] == ["1.5"]
    assert await storage.db.ledger.count_documents({"ref": refused.request_id}) == 1
    audit = await storage.db.audit.find_one({"action": "usage.redrive"}, sort=[("_id", -1)])
    assert audit is not None


async def test_worker_0_replays_journals_no_worker_owns(embedded_db, tmp_path):
    """Fewer workers than last time, or a second relay on the data directory that has stopped:
    worker 0 replays their journals and removes them; one a live process holds is left alone."""
    db_name = "t_orphans_" + uuid.uuid4().hex[:8]
    checker = Storage.connect(embedded_db.url, db_name)
    user = await make_user(checker, balance=10_000_000)
    records = [_record(user["_id"], PriceRule.build("claude-*", 3_000_000, 15_000_000), Usage(input=10, output=5))
               for _ in range(3)]
    (tmp_path / "usage-journal-3.jsonl").write_bytes(to_line(records[0]))
    (tmp_path / "usage-journal-0-4242.jsonl").write_bytes(to_line(records[1]))
    live = UsageJournal.open(tmp_path, 7)  # a live process's journal
    live.append(records[2])
    # nx-27017 shares collections between database names: the session's secrets key (README).
    runtime = Runtime(Settings(mongo_url=embedded_db.url, db_name=db_name, port=0, bcrypt_rounds=4,
                               data_dir=str(tmp_path), secrets_key=TEST_SECRETS_KEY.decode()))
    try:
        await runtime.start()
        ids = [r.request_id for r in records]
        billed = {d["request_id"] async for d in checker.db.usage.find({"request_id": {"$in": ids}})}
        assert billed == {records[0].request_id, records[1].request_id}
        assert not (tmp_path / "usage-journal-3.jsonl").exists()
        assert not (tmp_path / "usage-journal-0-4242.jsonl").exists()
        assert parse_lines(live.path.read_bytes())[0]["doc"]["request_id"] == records[2].request_id
    finally:
        await runtime.close()
        live.close()
        await checker.drop()
        await checker.close()


def test_an_orphan_journal_with_a_broken_line_still_replays(tmp_path):
    """A line an older or crashed writer left must not stop worker 0 from starting; a request
    written twice is one record."""
    record = _record("usr_o", PriceRule.build("claude-*", 3_000_000, 15_000_000), Usage(input=10, output=5))
    path = tmp_path / "usage-journal-5.jsonl"
    path.write_bytes(to_line(record) + b'{"doc": {"request_id": "req_half"}}\n' + to_line(record))
    records = UsageJournal.read_orphan(path)
    assert records is not None and [r.request_id for r in records] == [record.request_id]


async def test_a_re_drive_cut_short_keeps_what_it_did_not_charge(journal):
    """The set-aside file is rewritten only after the re-drive: a process killed (here:
    cancelled) midway loses no entry; the one it charged goes."""
    from server.billing.set_aside import SetAsideService

    rule = PriceRule.build("claude-*", 3_000_000, 15_000_000)
    records = [_record("usr_s", rule, Usage(input=10, output=5)) for _ in range(3)]
    for record in records:
        journal.set_aside(record, "refused")

    class CutShort:
        calls = 0

        async def charge_many(self, batch):
            CutShort.calls += 1
            if CutShort.calls == 2:
                raise asyncio.CancelledError
            return []

    with pytest.raises(asyncio.CancelledError):
        await SetAsideService(journal, CutShort()).redrive()  # type: ignore[arg-type]
    left = [e["doc"]["request_id"] for e in journal.set_aside_entries()]
    assert left == [r.request_id for r in records[1:]]
