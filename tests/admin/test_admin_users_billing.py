"""Users, recharges, redeem codes, runtime settings, the overview and the audit trail over
the operator API."""

from __future__ import annotations

import csv
import io

import pytest

from tests.admin.support import error, ok
from tests.relay.support import make_key, make_user


async def test_user_search_detail(admin, relay):
    alice = await make_user(relay.deps.storage, username="alice_ops", email="alice.ops@example.test")
    await make_key(relay.deps.storage, alice["_id"])
    found = ok(await admin.get("/api/admin/users?q=ALICE.OPS&limit=5"))
    assert found["total"] == 1 and found["data"][0]["id"] == alice["_id"]
    assert ok(await admin.get("/api/admin/users?q=alice_o"))["data"][0]["username"] == "alice_ops"
    assert ok(await admin.get("/api/admin/users?q=.*"))["total"] == 0  # the query is literal, not a regex
    page = ok(await admin.get("/api/admin/users?limit=1&offset=0"))
    assert len(page["data"]) == 1 and page["total"] >= 2
    error(await admin.get("/api/admin/users?limit=abc"), 400)
    detail = ok(await admin.get(f"/api/admin/users/{alice['_id']}"))
    assert detail["balance"] == alice["balance"] and len(detail["keys"]) == 1
    assert "key_hash" not in str(detail) and "password_hash" not in detail
    assert detail["recent_usage"] == [] and detail["usage_total"] == 0
    error(await admin.get("/api/admin/users/usr_missing"), 404)


async def test_disable_ends_sessions_and_refuses_relay_at_once(admin, relay):
    user = await make_user(relay.deps.storage)
    secret = await make_key(relay.deps.storage, user["_id"])
    token, _ = relay.deps.sessions.issue(user)
    await relay.deps.keys.resolve(secret)  # now cached
    disabled = ok(await admin.post(f"/api/admin/users/{user['_id']}/disable"))
    assert disabled["status"] == "disabled"
    async with relay.client() as http:
        r = await http.get("/api/user/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (401, 403)
        r = await http.post("/v1/messages", headers={"x-api-key": secret},
                            json={"model": "claude-sonnet-4-5", "max_tokens": 5,
                                  "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 403
    enabled = ok(await admin.post(f"/api/admin/users/{user['_id']}/enable"))
    assert enabled["status"] == "active"
    assert (await relay.deps.keys.resolve(secret))[1]["status"] == "active"
    error(await admin.post(f"/api/admin/users/{admin.user['_id']}/disable"), 400)
    error(await admin.post("/api/admin/users/usr_missing/disable"), 404)


@pytest.mark.parametrize(("amount", "field"), [("0", "amount"), ("abc", "amount"), ("1.0000001", "amount"),
                                                (True, "amount"), (None, "amount")])
async def test_adjust_validation(admin, relay, amount, field):
    user = await make_user(relay.deps.storage)
    err = error(await admin.post(f"/api/admin/users/{user['_id']}/adjust", {"amount": amount, "reason": "x"}), 400)
    assert err["field"] == field


async def test_adjust_posts_a_ledger_entry(admin, relay):
    user = await make_user(relay.deps.storage, balance=5_000_000)
    result = ok(await admin.post(f"/api/admin/users/{user['_id']}/adjust", {"amount": "-1.5", "reason": "退款冲正"}))
    assert result["balance"] == 3_500_000 and result["amount"] == -1_500_000
    entry = await relay.deps.storage.db.ledger.find_one({"_id": result["ledger_id"]})
    assert entry["type"] == "adjustment" and entry["applied"]
    assert entry["meta"] == {"reason": "退款冲正", "admin_id": admin.user["_id"]}
    assert await relay.deps.ledger.balance_and_sum(user["_id"]) == (3_500_000, -1_500_000)
    assert error(await admin.post(f"/api/admin/users/{user['_id']}/adjust", {"amount": "1"}), 400)["field"] == "reason"
    error(await admin.post("/api/admin/users/usr_missing/adjust", {"amount": "1", "reason": "x"}), 404)


async def test_adjust_with_an_idempotency_key_applies_once(admin, relay):
    user = await make_user(relay.deps.storage, balance=0)
    body = {"amount": "2", "reason": "补偿", "idempotency_key": "ticket-4711-comp"}
    first = ok(await admin.post(f"/api/admin/users/{user['_id']}/adjust", body))
    again = ok(await admin.post(f"/api/admin/users/{user['_id']}/adjust", body))
    assert first["ledger_id"] == again["ledger_id"] and again["balance"] == 2_000_000
    assert await relay.deps.ledger.balance_and_sum(user["_id"]) == (2_000_000, 2_000_000)


async def test_recharges_approve_reject_idempotent(admin, relay):
    user = await make_user(relay.deps.storage, balance=0)
    first, _ = await relay.deps.recharge.request(user["_id"], amount=10_000_000, description="微信")
    second, _ = await relay.deps.recharge.request(user["_id"], amount=3_000_000)
    pending = ok(await admin.get("/api/admin/recharges?status=pending"))
    assert {o["id"] for o in pending["data"]} >= {first["_id"], second["_id"]}
    error(await admin.get("/api/admin/recharges?status=weird"), 400)
    approved = ok(await admin.post(f"/api/admin/recharges/{first['_id']}/approve"))
    assert approved["status"] == "credited" and approved["decided_by"] == admin.user["_id"]
    again = ok(await admin.post(f"/api/admin/recharges/{first['_id']}/approve"))
    assert again["status"] == "credited"
    assert (await relay.deps.user_store.get(user["_id"]))["balance"] == 10_000_000
    rejected = ok(await admin.post(f"/api/admin/recharges/{second['_id']}/reject", {"reason": "未到账"}))
    assert rejected["status"] == "rejected" and rejected["reason"] == "未到账"
    assert ok(await admin.post(f"/api/admin/recharges/{second['_id']}/reject"))["status"] == "rejected"
    error(await admin.post(f"/api/admin/recharges/{second['_id']}/approve"), 409)
    error(await admin.post(f"/api/admin/recharges/{first['_id']}/reject"), 409)
    error(await admin.post("/api/admin/recharges/rco_missing/approve"), 404)
    actions = [a["action"] for a in ok(await admin.get("/api/admin/audit?limit=100"))["data"]
               if a["target"] in (first["_id"], second["_id"])]
    assert sorted(actions) == ["recharge.approve", "recharge.reject"]  # repeats record nothing


async def test_codes_create_list_revoke_export(admin, relay):
    made = ok(await admin.post("/api/admin/codes", {"amount": "20", "count": 3,
                                                    "expires_at": "2099-01-01T00:00:00Z"}), 201)["data"]
    assert len(made) == 3 and all(c["amount"] == 20_000_000 and c["status"] == "active" for c in made)
    assert error(await admin.post("/api/admin/codes", {"amount": "0", "count": 1}), 400)["field"] == "amount"
    assert error(await admin.post("/api/admin/codes", {"amount": "1", "count": 0}), 400)["field"] == "count"
    listed = ok(await admin.get("/api/admin/codes?status=active"))
    assert {c["id"] for c in made} <= {c["id"] for c in listed["data"]} and listed["total"] >= 3
    revoked = ok(await admin.post(f"/api/admin/codes/{made[0]['id']}/revoke"))
    assert revoked["status"] == "revoked"
    error(await admin.post(f"/api/admin/codes/{made[0]['id']}/revoke"), 404)
    r = await admin.get("/api/admin/codes/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    by_id = {row["id"]: row for row in rows}
    assert by_id[made[1]["id"]]["code"] == made[1]["code"] and by_id[made[1]["id"]]["amount"] == "20"
    assert by_id[made[0]["id"]]["status"] == "revoked"
    audit = ok(await admin.get("/api/admin/audit?action=codes.create"))["data"]
    assert audit and made[1]["code"] not in str(audit)  # codes are secrets: never in the audit trail


async def test_settings_get_patch(admin, relay):
    current = ok(await admin.get("/api/admin/settings"))
    assert set(current) == {"recharge_mode", "registration_open", "log_retention_days", "default_rate_limit"}
    changed = ok(await admin.patch("/api/admin/settings", {"recharge_mode": "code", "log_retention_days": 30,
                                                           "default_rate_limit": 120}))
    assert changed["recharge_mode"] == "code" and changed["log_retention_days"] == 30
    assert (await relay.deps.runtime_settings.get()).default_rate_limit == 120
    assert error(await admin.patch("/api/admin/settings", {"recharge_mode": "free"}), 400)["field"] == "recharge_mode"
    assert error(await admin.patch("/api/admin/settings", {"nope": 1}), 400)["field"] == "nope"
    assert ok(await admin.patch("/api/admin/settings", {"registration_open": False}))["registration_open"] is False
    assert ok(await admin.get("/api/admin/settings"))["registration_open"] is False
    ok(await admin.patch("/api/admin/settings", {"registration_open": True}))
    ok(await admin.patch("/api/admin/settings", {"recharge_mode": "manual"}))
    entry = ok(await admin.get("/api/admin/audit?action=settings.update&limit=1"))["data"][0]
    assert entry["before"]["recharge_mode"] == "code" and entry["after"]["recharge_mode"] == "manual"


async def test_overview_shape(admin):
    body = ok(await admin.get("/api/admin/overview"))
    assert {"requests_per_minute", "error_rate", "active_streams", "today", "days", "top", "accounts",
            "pending_recharges", "jobs"} <= set(body)
    assert len(body["days"]) == 14 and set(body["top"]) == {"users", "models", "accounts"}
    assert {"revenue", "upstream_cost", "margin", "requests"} <= set(body["today"])
    assert body["active_streams"] >= 1  # this very request


async def test_audit_pagination(admin):
    page = ok(await admin.get("/api/admin/audit?limit=2&offset=0"))
    assert len(page["data"]) == 2 and page["total"] >= 2
    entry = page["data"][0]
    assert {"id", "ts", "admin_id", "action", "target", "before", "after"} == set(entry)
