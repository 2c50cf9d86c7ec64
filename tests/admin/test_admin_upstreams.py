"""Upstream accounts over the operator API: validation, the write-only key, the live view,
enable/disable, probes, deletion, and the audit trail they leave."""

from __future__ import annotations

import pytest

from tests.admin.support import error, ok

LIVE = {"status", "inflight", "stats_5m", "stats_1h", "last_error", "sticky_sessions", "tokens_today",
        "requests_today", "upstream_cost_today"}
FIELDS = {"id", "name", "groups", "protocol", "base_url", "api_key_masked", "weight", "priority", "enabled",
          "models", "model_map", "max_concurrency", "notes", "proxy", "state", "live", "created_at", "updated_at"}


def account(emu, name: str = "e1", **fields):
    return {"name": f"acct-{name}-{fields.pop('suffix', '')}", "groups": ["claude"], "protocol": "anthropic",
            "base_url": emu.base_url, "api_key": f"emu-key-{name}", **fields}


async def test_create_list_get_never_return_the_key(admin, emu):
    created = ok(await admin.post("/api/admin/upstreams", account(emu, suffix="crud", weight=3, priority=2,
                                                                  models=["claude-*"], notes="主账号",
                                                                  model_map={"claude-x": "claude-y"})), 201)
    assert set(created) == FIELDS and set(created["live"]) == LIVE
    assert created["api_key_masked"] == "…y-e1" and "api_key" not in created
    assert created["weight"] == 3 and created["priority"] == 2 and created["enabled"] is True
    assert created["state"] == {"status": "healthy", "reason": "", "cooldown_until": None}
    assert created["live"]["stats_5m"]["requests"] == 0
    listing = ok(await admin.get("/api/admin/upstreams"))["data"]
    assert [a for a in listing if a["id"] == created["id"]][0]["name"] == created["name"]
    assert "emu-key-e1" not in str(listing)
    one = ok(await admin.get(f"/api/admin/upstreams/{created['id']}"))
    assert one["model_map"] == {"claude-x": "claude-y"} and one["notes"] == "主账号"


@pytest.mark.parametrize(("change", "field"), [
    ({"name": ""}, "name"), ({"name": "has space"}, "name"), ({"protocol": "grpc"}, "protocol"),
    ({"base_url": "ftp://x"}, "base_url"), ({"base_url": "http://u:p@h/"}, "base_url"),
    ({"api_key": ""}, "api_key"), ({"api_key": "a b"}, "api_key"), ({"weight": 0}, "weight"),
    ({"weight": "2"}, "weight"), ({"priority": 5000}, "priority"), ({"enabled": "yes"}, "enabled"),
    ({"models": "claude"}, "models"), ({"model_map": {"a": 1}}, "model_map"),
    ({"max_concurrency": -1}, "max_concurrency"), ({"groups": ["nope"]}, "groups"),
    ({"surprise": 1}, "surprise"),
])
async def test_create_validates_every_field(admin, emu, change, field):
    body = {**account(emu, suffix="bad"), **change}
    err = error(await admin.post("/api/admin/upstreams", body), 400)
    assert err["field"] == field


async def test_duplicate_name_is_409(admin, emu):
    ok(await admin.post("/api/admin/upstreams", account(emu, suffix="dup")), 201)
    err = error(await admin.post("/api/admin/upstreams", account(emu, suffix="dup")), 409)
    assert err["field"] == "name"


async def test_patch_keeps_key_unless_given_and_audits_masked(admin, emu, relay):
    created = ok(await admin.post("/api/admin/upstreams", account(emu, suffix="patch")), 201)
    path = f"/api/admin/upstreams/{created['id']}"
    patched = ok(await admin.patch(path, {"weight": 7, "notes": "n"}))
    assert patched["weight"] == 7
    assert (await relay.deps.upstreams.get(created["id"]))["api_key"] == "emu-key-e1"
    patched = ok(await admin.patch(path, {"api_key": "emu-key-e2"}))
    assert patched["api_key_masked"] == "…y-e2"
    assert (await relay.deps.upstreams.get(created["id"]))["api_key"] == "emu-key-e2"
    error(await admin.patch(path, {"weight": -1}), 400)
    error(await admin.patch("/api/admin/upstreams/ups_missing", {"weight": 2}), 404)
    audit = ok(await admin.get("/api/admin/audit?limit=20"))["data"]
    entry = next(a for a in audit if a["action"] == "upstream.update" and a["target"] == created["id"]
                 and a["after"]["api_key"] == "…y-e2")
    assert entry["before"]["api_key"] == "…y-e1" and entry["admin_id"] == admin.user["_id"]
    assert "emu-key" not in str(audit)


async def test_disable_enable_and_delete(admin, emu, relay):
    created = ok(await admin.post("/api/admin/upstreams", account(emu, suffix="switch")), 201)
    base = f"/api/admin/upstreams/{created['id']}"
    disabled = ok(await admin.post(f"{base}/disable"))
    assert disabled["enabled"] is False and disabled["live"]["status"] == "disabled"
    assert relay.deps.pools.accounts[created["id"]].status == "disabled"
    await relay.deps.upstreams.set_state(created["id"], "cooling", "x", 4e9)
    enabled = ok(await admin.post(f"{base}/enable"))
    assert enabled["enabled"] is True and enabled["state"]["status"] == "healthy"
    assert relay.deps.pools.accounts[created["id"]].status == "healthy"
    assert ok(await admin.delete(base)) == {"deleted": True, "id": created["id"]}
    error(await admin.get(base), 404)
    error(await admin.delete(base), 404)
    assert created["id"] not in relay.deps.pools.accounts


async def test_probe_success_failure_and_health(admin, emu, relay):
    good = ok(await admin.post("/api/admin/upstreams", account(emu, suffix="probe")), 201)
    result = ok(await admin.post(f"/api/admin/upstreams/{good['id']}/test"))
    assert result["ok"] is True and result["status"] == 200 and result["latency_ms"] >= 0
    assert result["error"] is None
    bad = ok(await admin.post("/api/admin/upstreams", account(emu, suffix="badkey", api_key="wrong-key-123")), 201)
    result = ok(await admin.post(f"/api/admin/upstreams/{bad['id']}/test"))
    assert result["ok"] is False and result["status"] == 401
    assert (await relay.deps.upstreams.get(bad["id"]))["state"]["status"] == "disabled"  # the 401 rule
    gone = ok(await admin.post("/api/admin/upstreams", account(emu, suffix="gone",
                                                               base_url="http://127.0.0.1:9")), 201)
    result = ok(await admin.post(f"/api/admin/upstreams/{gone['id']}/test"))
    assert result["ok"] is False and result["status"] is None and result["error"]
    assert (await relay.deps.upstreams.get(gone["id"]))["state"]["status"] == "cooling"
    # The key comes back: one successful probe makes it healthy again.
    ok(await admin.patch(f"/api/admin/upstreams/{bad['id']}", {"api_key": "emu-key-e2"}))
    assert ok(await admin.post(f"/api/admin/upstreams/{bad['id']}/test"))["ok"] is True
    assert (await relay.deps.upstreams.get(bad["id"]))["state"]["status"] == "healthy"
    error(await admin.post("/api/admin/upstreams/ups_nope/test"), 404)
