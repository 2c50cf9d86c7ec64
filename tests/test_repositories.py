"""The repositories that took over queries from services and jobs (issue 16): each does what
its name says on the real embedded database, including the nx-27017 cases."""

from __future__ import annotations

import datetime as dt

from server.storage.audit import AuditStore
from server.storage.error_rules import ErrorRulesStore
from server.storage.recharge import RedeemCodeStore
from server.storage.sticky import StickyRows
from server.storage.usage_retention import UsageRetention

UTC = dt.timezone.utc


async def test_sticky_rows_bind_never_shorten_count_and_purge(storage):
    rows = StickyRows(storage)
    await storage.db.sticky.delete_many({})
    await rows.bind("s1", "acc-a", 1_000.0)
    await rows.bind("s1", "acc-a", 500.0)  # a plain renewal never shortens a longer binding
    assert (await rows.get("s1"))["expires_at"] == 1_000.0
    await rows.bind("s2", "acc-a", 50.0)
    await rows.bind("s3", "acc-b", 1_000.0)
    assert await rows.get("nope") is None
    assert await rows.live_for("acc-a", now=100.0) == 1  # s2 has expired
    assert await rows.purge_expired(now=100.0) == 1
    assert await rows.get("s2") is None and await rows.get("s1") is not None


async def test_audit_pages_newest_first_and_filters_date_like_actions_exactly(storage):
    audit = AuditStore(storage)
    await storage.db.audit.delete_many({})
    for i, action in enumerate(["user.adjust", "2024-01-15@odd", "user.adjust"]):
        await audit.add({"_id": f"aud_{i}", "ts": dt.datetime(2024, 1, 1, i, tzinfo=UTC), "action": action})
    rows, total = await audit.page(limit=1, offset=0, action="user.adjust")
    assert total == 2 and [r["_id"] for r in rows] == ["aud_2"]
    rows, total = await audit.page(limit=10, offset=0, action="2024-01-15@odd")  # not read as a date
    assert total == 1 and rows[0]["_id"] == "aud_1"
    assert (await audit.page(limit=10, offset=1))[1] == 3


async def test_error_rules_store_round_trip(storage):
    store = ErrorRulesStore(storage)
    await storage.db.settings.delete_many({"_id": "error_rules"})  # nx-27017 shares collections
    assert await store.stored() == []
    rule = {"status": "429", "action": "cooldown", "seconds": 30}
    await store.replace([rule], "adm_1", dt.datetime(2024, 1, 1, tzinfo=UTC))
    assert await store.stored() == [rule]
    await store.replace([], "adm_1", dt.datetime(2024, 1, 2, tzinfo=UTC))
    assert await store.stored() == []


async def test_redeem_codes_expire_only_active_past_due(storage):
    codes = RedeemCodeStore(storage)
    now = dt.datetime(2024, 6, 1, tzinfo=UTC)
    await storage.db.redeem_codes.delete_many({})
    await codes.insert_many([
        {"_id": "rdc_due", "code": "A", "status": "active", "expires_at": now - dt.timedelta(days=1)},
        {"_id": "rdc_later", "code": "B", "status": "active", "expires_at": now + dt.timedelta(days=1)},
        {"_id": "rdc_never", "code": "C", "status": "active", "expires_at": None},
        {"_id": "rdc_used", "code": "D", "status": "redeemed", "expires_at": now - dt.timedelta(days=1)}])
    assert await codes.expire_due(now) == 1
    assert await codes.expire_due(now) == 0  # idempotent
    status = {d["_id"]: d["status"] async for d in storage.db.redeem_codes.find({})}
    assert status == {"rdc_due": "expired", "rdc_later": "active", "rdc_never": "active",
                      "rdc_used": "redeemed"}


async def test_usage_retention_deletes_only_rows_before_the_cutoff(storage):
    cutoff = dt.datetime(2024, 6, 1, tzinfo=UTC)
    await storage.db.usage.delete_many({})
    await storage.db.usage.insert_many([
        {"_id": "r_old", "request_id": "r_old", "user_id": "u", "ts": cutoff - dt.timedelta(days=2)},
        {"_id": "r_new", "request_id": "r_new", "user_id": "u", "ts": cutoff + dt.timedelta(hours=1)}])
    assert await UsageRetention(storage).delete_before(cutoff) == 1
    assert [d["_id"] async for d in storage.db.usage.find({})] == ["r_new"]
