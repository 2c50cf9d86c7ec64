"""The operator's per-user overdraft (issue 14): set, shown, audited, and what the holds allow."""

from __future__ import annotations

import pytest

from tests.admin.support import error, ok
from tests.relay.support import make_user


@pytest.mark.parametrize("amount", ["-1", "abc", "1.0000001", True, 5.5, "2000000"])
async def test_overdraft_validation(admin, relay, amount):
    user = await make_user(relay.deps.storage)
    assert error(await admin.post(f"/api/admin/users/{user['_id']}/overdraft", {"amount": amount}), 400)["field"] == "amount"


async def test_overdraft_set_shown_audited_and_held_against(admin, relay):
    user = await make_user(relay.deps.storage, balance=0)
    detail = ok(await admin.get(f"/api/admin/users/{user['_id']}"))
    assert detail["overdraft"] == relay.settings.overdraft == 0 and detail["overdraft_is_default"]
    assert detail["held"] == 0
    # Nothing to spend and no credit: a hold of 500 micro-units is refused.
    assert (await relay.deps.holds.store.take_user(user["_id"], "req_a", 500, 0, 1e12))[0] == "insufficient"
    result = ok(await admin.post(f"/api/admin/users/{user['_id']}/overdraft", {"amount": "0.001"}))
    assert result["overdraft"] == 1000 and not result["overdraft_is_default"]
    assert (await relay.deps.holds.store.take_user(user["_id"], "req_b", 500, 0, 1e12))[0] == "ok"
    assert (await relay.deps.holds.store.take_user(user["_id"], "req_c", 501, 0, 1e12))[0] == "insufficient"
    detail = ok(await admin.get(f"/api/admin/users/{user['_id']}"))
    assert detail["held"] == 500 and detail["overdraft"] == 1000
    audit = ok(await admin.get("/api/admin/audit?limit=5"))
    assert any(row.get("action") == "user.overdraft" for row in audit["data"]), audit
    back = ok(await admin.post(f"/api/admin/users/{user['_id']}/overdraft", {"amount": None}))
    assert back["overdraft_is_default"] and back["overdraft"] == 0
    error(await admin.post("/api/admin/users/usr_missing/overdraft", {"amount": "1"}), 404)
