"""Recharges in the three modes: manual orders approved (idempotently, even when approvals
race) or rejected, redeem codes taken once under a 20-way race, open mode credited at once,
and refusals that write nothing."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from server.errors import Conflict, NotFound
from server.storage.ledger import LedgerStore
from tests.accounts_support import account, counts


@pytest.fixture
async def mode(relay):
    """Set the recharge mode for one test, back to manual afterwards."""
    async def set_mode(name: str) -> None:
        await relay.deps.runtime_settings.update(recharge_mode=name)
    yield set_mode
    await relay.deps.runtime_settings.update(recharge_mode="manual")


async def _balance(acct) -> int:
    return (await acct.get("/api/user/me")).json()["balance"]


async def test_manual_order_approved_once_under_races(relay, mode):
    await mode("manual")
    async with relay.client() as http:
        acct = await account(http)
        r = await acct.post("/api/user/recharge", {"amount": 100, "description": "支付宝充值"})
        assert r.status_code == 201
        order = r.json()["order"]
        assert order["status"] == "pending" and order["amount"] == 100_000_000 and order["amount_display"] == "100"
        assert order["description"] == "支付宝充值" and order["method"] == "manual"
        assert r.json()["balance"] is None and await _balance(acct) == 0

        results = await asyncio.gather(*[relay.deps.recharge.approve(order["id"], "usr_admin") for _ in range(10)])
        assert {o["status"] for o in results} <= {"approved", "credited"}
        again = await relay.deps.recharge.approve(order["id"], "usr_admin")
        assert again["status"] == "credited" and again["ledger_id"] == "rch_" + order["id"]
        assert await _balance(acct) == 100_000_000
        assert await relay.deps.storage.db.ledger.count_documents({"user_id": acct.id}) == 1
        assert await LedgerStore(relay.deps.storage).balance_and_sum(acct.id) == (100_000_000, 100_000_000)
        with pytest.raises(Conflict):
            await relay.deps.recharge.reject(order["id"], "usr_admin")

        listed = (await acct.get("/api/user/recharge")).json()
        assert listed["total"] == 1 and listed["data"][0]["status"] == "credited"
        assert listed["data"][0]["decided_by"] == "usr_admin" and listed["data"][0]["decided_at"].endswith("Z")


async def test_listing_tells_the_mode(relay, mode):
    """The dashboard shows only the form of the operator's current mode."""
    async with relay.client() as http:
        acct = await account(http)
        for name in ("code", "open", "manual"):
            await mode(name)
            body = (await acct.get("/api/user/recharge")).json()
            assert body["recharge_mode"] == name
            assert body["data"] == [] and body["total"] == 0
        assert (await http.get("/api/user/recharge")).status_code == 401


async def test_manual_order_rejected(relay, mode):
    await mode("manual")
    async with relay.client() as http:
        acct = await account(http)
        order = (await acct.post("/api/user/recharge", {"amount": "5.5"})).json()["order"]
        rejected = await relay.deps.recharge.reject(order["id"], "usr_admin", "未到账")
        assert rejected["status"] == "rejected" and rejected["reason"] == "未到账"
        assert (await relay.deps.recharge.reject(order["id"], "usr_admin"))["status"] == "rejected"
        with pytest.raises(Conflict):
            await relay.deps.recharge.approve(order["id"], "usr_admin")
        with pytest.raises(NotFound):
            await relay.deps.recharge.approve("rco_missing", "usr_admin")
        assert await _balance(acct) == 0
        assert await relay.deps.storage.db.ledger.count_documents({"user_id": acct.id}) == 0


async def test_amount_validation_writes_nothing(relay, mode):
    await mode("open")
    async with relay.client() as http:
        acct = await account(http)
        before = await counts(relay.deps.storage)
        for amount in (0, -1, "-1", "1.1234567", 1.0000001, 10_000_001, "1e3", True, None, [], "abc", 1e300):
            r = await acct.post("/api/user/recharge", {"amount": amount})
            assert r.status_code == 400, (amount, r.text)
            assert r.json()["error"]["field"] == "amount", amount
        r = await acct.post("/api/user/recharge", {"amount": 5, "description": "x" * 201})
        assert r.status_code == 400 and r.json()["error"]["field"] == "description"
        assert await counts(relay.deps.storage) == before


async def test_open_mode_credits_at_once(relay, mode):
    await mode("open")
    async with relay.client() as http:
        acct = await account(http)
        r = await acct.post("/api/user/recharge", {"amount": "12.345678", "description": "试用"})
        assert r.status_code == 201
        assert r.json()["order"]["status"] == "credited" and r.json()["order"]["method"] == "open"
        assert r.json()["balance"] == 12_345_678 and r.json()["balance_display"] == "12.345678"
        assert await _balance(acct) == 12_345_678
        entry = await relay.deps.storage.db.ledger.find_one({"user_id": acct.id})
        assert entry["type"] == "recharge" and entry["_id"] == "rch_" + r.json()["order"]["id"]


class _Ahead:
    """The relay's clock, moved forward: expiry tests without waiting."""

    def __init__(self, clock, seconds: float) -> None:
        self.clock, self.seconds = clock, seconds

    def now(self) -> float:
        return self.clock.now() + self.seconds

    def monotonic(self) -> float:
        return self.clock.monotonic() + self.seconds


async def _refusals_change_nothing(relay, acct, codes, expiring) -> None:
    before = await counts(relay.deps.storage)
    for body, message in [({"amount": 5}, "请填写兑换码"), ({"code": "nonsense"}, "兑换码格式不正确"),
                          ({"code": "AAAA-BBBB-CCCC-DDDD"}, "兑换码不存在"),
                          ({"code": codes[3]["code"]}, "兑换码已作废"),
                          ({"code": expiring["code"]}, "兑换码已过期")]:
        r = await acct.post("/api/user/recharge", body)
        assert r.status_code == 400 and r.json()["error"]["field"] == "code"
        assert message in r.json()["error"]["message"], (body, r.json())
    assert await counts(relay.deps.storage) == before


async def test_code_mode(relay, mode):
    await mode("code")
    redeem = relay.deps.redeem
    async with relay.client() as http:
        acct = await account(http)
        codes = await redeem.create_codes(5_000_000, 4, None, "usr_admin")
        assert len({c["code"] for c in codes}) == 4
        assert all(len(c["code"]) == 19 and c["code"].count("-") == 3 for c in codes)
        soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
        expiring = (await redeem.create_codes(1_000_000, 1, soon, "usr_admin"))[0]
        await redeem.revoke(codes[3]["_id"])
        real_clock = redeem.clock
        redeem.clock = _Ahead(real_clock, seconds=600)  # the code's expiry has passed, no waiting
        try:
            await _refusals_change_nothing(relay, acct, codes, expiring)
        finally:
            redeem.clock = real_clock

        typed = codes[0]["code"].lower().replace("-", " ")
        r = await acct.post("/api/user/recharge", {"code": typed, "description": "活动兑换"})
        assert r.status_code == 201, r.text
        assert r.json()["order"]["method"] == "code" and r.json()["order"]["amount"] == 5_000_000
        assert r.json()["balance"] == 5_000_000
        before = await counts(relay.deps.storage)
        r = await acct.post("/api/user/recharge", {"code": codes[0]["code"]})
        assert r.status_code == 400 and r.json()["error"]["message"] == "兑换码已被使用"
        assert await counts(relay.deps.storage) == before
        entry = await relay.deps.storage.db.ledger.find_one({"_id": "rdm_" + codes[0]["_id"]})
        assert entry["type"] == "redeem" and entry["amount"] == 5_000_000 and entry["applied"]


async def test_code_redeemed_once_by_twenty_racers(relay, mode):
    await mode("code")
    async with relay.client() as http:
        racers = [await account(http) for _ in range(4)]
        code = (await relay.deps.redeem.create_codes(7_000_000, 1, None, "usr_admin"))[0]
        responses = await asyncio.gather(*[racers[i % 4].post("/api/user/recharge", {"code": code["code"]})
                                           for i in range(20)])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [400] * 19
        assert await relay.deps.storage.db.ledger.count_documents({"ref": code["_id"]}) == 1
        balances = [await _balance(a) for a in racers]
        assert sorted(balances) == [0, 0, 0, 7_000_000]
        winner = racers[balances.index(7_000_000)]
        stored = await relay.deps.storage.db.redeem_codes.find_one({"_id": code["_id"]})
        assert stored["status"] == "redeemed" and stored["redeemed_by"] == winner.id


async def test_create_codes_validation(relay):
    from server.errors import BadRequest

    for amount, count in ((0, 1), (1_000_000, 0), (1_000_000, 1001), (10**13, 1)):
        with pytest.raises(BadRequest):
            await relay.deps.redeem.create_codes(amount, count, None, "usr_admin")


async def test_redeem_crash_before_the_ledger_entry_is_repaired(relay):
    """The code was taken, the process died before the ledger entry: repair credits it once."""
    import datetime as dt

    from server.ids import new_id

    deps = relay.deps
    user = await deps.users.register("crashy_" + new_id("u")[-6:], new_id("u")[-8:] + "@example.com", "password-123")
    codes = await deps.redeem.create_codes(5_000_000, 1, None, "admin_test")
    now = dt.datetime.now(dt.timezone.utc)
    taken = await deps.redeem.codes.redeem(codes[0]["code"], user["_id"], now)  # step 1 only
    assert taken is not None
    assert await deps.redeem.repair() == 1
    assert await deps.redeem.repair() == 0
    balance, total = await deps.ledger.balance_and_sum(user["_id"])
    assert balance == total == 5_000_000
