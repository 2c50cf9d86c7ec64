"""F8 and F9: out-of-range client times are a 400 naming the field; strings that look like
dates (which nx-27017 compares as dates, see ``server.storage.exact``) are found exactly by
every storage lookup: emails, usernames, key names, price patterns, redeem codes, model filters."""

from __future__ import annotations

import pytest

from server.accounts.times import from_epoch
from server.storage.exact import exact, looks_like_date
from server.storage.recharge import RedeemCodeStore
from tests.accounts_support import PASSWORD
from tests.admin.support import error, ok

OUT_OF_RANGE = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z", "-5"]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
async def test_out_of_range_times_are_400_naming_the_field(admin, member, value):
    for field in ("from", "to"):
        r = await member.http.get("/api/user/logs", params={field: value}, headers=member.headers)
        assert error(r, 400, field)
    r = await member.post("/api/user/keys", {"name": "k", "expiresAt": value})
    assert error(r, 400, "expiresAt")
    r = await admin.post("/api/admin/codes", {"amount": "1", "count": 1, "expires_at": value})
    assert error(r, 400, "expires_at")
    r = await admin.get("/api/admin/codes")
    assert ok(r)["total"] == 0  # nothing was created


def test_the_date_shapes_nx_would_misread():
    for value in ("2024-01-15@corp.com", "2024-01-15T10:00:00Z", "01/15/2024 x", "2024/01/15",
                  "12-31-2024", " 2024-01-15"):
        assert looks_like_date(value) and exact(value) != value
    for value in ("alice@example.com", "12345678@qq.com", "2024-1-15", "sk-2024-01-15", 5):
        assert not looks_like_date(value) and exact(value) == value


async def test_date_like_email_and_username_register_log_in_and_conflict(relay):
    async with relay.client() as http:
        email, name = "2024-01-15@corp.com", "2024-01-15T10"
        r = await http.post("/api/user/register", json={"username": name, "email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text  # F9: it could never log in
        r = await http.post("/api/user/register", json={"username": "other1", "email": email, "password": PASSWORD})
        assert error(r, 409, "email")
        r = await http.post("/api/user/register",
                            json={"username": name, "email": "x2024@corp.com", "password": PASSWORD})
        assert error(r, 409, "username")
        # another date-like email naming the same day is a different account
        r = await http.post("/api/user/login", json={"email": "2024-01-15@corp.org", "password": PASSWORD})
        assert r.status_code == 401


async def test_date_like_key_name_and_admin_search(relay, admin, member):
    made = ok(await member.post("/api/user/keys", {"name": "2024-01-15T10:00:00Z"}), 201)
    keys = ok(await member.get("/api/user/keys"))["data"]
    assert [k["name"] for k in keys if k["id"] == made["id"]] == ["2024-01-15T10:00:00Z"]
    assert await relay.deps.keys.store.get_by_hash(  # the relay's lookup of a key
        __import__("hashlib").sha256(made["key"].encode()).hexdigest()) is not None
    await relay.deps.storage.db.users.update_one({"_id": member.user["_id"]}, {"$set": {"username": "2024-02-02x"}})
    found = ok(await admin.get("/api/admin/users?q=2024-02-02x"))["data"]
    assert [u["id"] for u in found] == [member.user["_id"]]


async def test_date_shaped_price_pattern(relay, admin):
    """F9: a date-shaped pattern was a 500 with no audit row."""
    created = ok(await admin.post("/api/admin/prices", {"pattern": "2024-01-01*", "input": "2", "output": "8"}), 201)
    assert created["pattern"] == "2024-01-01*"
    assert (await relay.deps.prices.find("2024-01-01-model")).input == 2_000_000
    error(await admin.post("/api/admin/prices", {"pattern": "2024-01-01*", "input": "1", "output": "1"}), 409)
    patched = ok(await admin.patch(f"/api/admin/prices/{created['id']}", {"input": "3"}))
    assert patched["input"] in (3_000_000, "3")
    audit = ok(await admin.get("/api/admin/audit"))["data"]
    assert any("2024-01-01*" in str(row) for row in audit)
    ok(await admin.delete(f"/api/admin/prices/{created['id']}"))


async def test_date_like_code_and_model_filter(relay, member):
    store = RedeemCodeStore(relay.deps.storage)
    now = from_epoch(relay.deps.clock.now())
    await store.insert_many([{"_id": "rdc_datelike", "code": "2024-01-15-0000", "amount": 5, "status": "active",
                              "expires_at": None, "created_by": "x", "created_at": now,
                              "redeemed_by": None, "redeemed_at": None}])
    assert (await store.get_by_code("2024-01-15-0000"))["_id"] == "rdc_datelike"
    assert await store.get_by_code("2024-01-15 00:00") is None
    taken = await store.redeem("2024-01-15-0000", member.user["_id"], now)
    assert taken is not None and taken["status"] == "redeemed"
    r = await member.get("/api/user/logs?model=2024-01-15T00:00:00Z")
    assert ok(r)["data"] == []
