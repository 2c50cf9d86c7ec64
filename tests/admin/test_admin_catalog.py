"""Groups, error rules and prices over the operator API."""

from __future__ import annotations

from server.pools.rules import DEFAULT_RULES
from tests.admin.support import error, ok


async def test_groups_list_create_patch(admin, relay, emu):
    groups = ok(await admin.get("/api/admin/groups"))["data"]
    assert {g["name"] for g in groups} >= {"claude", "codex"}
    created = ok(await admin.post("/api/admin/groups", {"name": "vip", "protocol": "anthropic",
                                                         "multiplier": "1.25", "description": "贵宾"}), 201)
    assert created["multiplier"] == "1.25" and created["multiplier_ppm"] == 1_250_000
    assert created["accounts"] == []
    error(await admin.post("/api/admin/groups", {"name": "vip", "protocol": "anthropic"}), 409)
    assert error(await admin.post("/api/admin/groups", {"name": "x y", "protocol": "anthropic"}), 400)["field"] == "name"
    assert error(await admin.post("/api/admin/groups", {"name": "g2", "protocol": "x"}), 400)["field"] == "protocol"
    assert error(await admin.post("/api/admin/groups", {"name": "g3", "protocol": "openai",
                                                        "multiplier": "abc"}), 400)["field"] == "multiplier"
    ok(await admin.post("/api/admin/upstreams", {"name": "vip-acct", "groups": ["vip"], "protocol": "anthropic",
                                                 "base_url": emu.base_url, "api_key": "emu-key-e1"}), 201)
    patched = ok(await admin.patch("/api/admin/groups/vip", {"multiplier": "0.8", "description": "d"}))
    assert patched["multiplier_ppm"] == 800_000 and patched["description"] == "d"
    assert [a["name"] for a in patched["accounts"]] == ["vip-acct"]
    assert (await relay.deps.groups.get("vip"))["multiplier_ppm"] == 800_000
    error(await admin.patch("/api/admin/groups/nope", {"description": "x"}), 404)
    assert error(await admin.patch("/api/admin/groups/vip", {"name": "other"}), 400)["field"] == "name"
    listed = {g["name"]: g for g in ok(await admin.get("/api/admin/groups"))["data"]}
    assert listed["vip"]["accounts"][0]["name"] == "vip-acct"


async def test_error_rules_get_replace_reset(admin, relay):
    got = ok(await admin.get("/api/admin/error-rules"))
    assert got["is_default"] is True and len(got["rules"]) == len(DEFAULT_RULES)
    rules = [{"status": "429", "action": "cooldown", "seconds": 5, "name": "short"},
             {"status": "5xx", "action": "retry"}]
    replaced = ok(await admin.put("/api/admin/error-rules", {"rules": rules}))
    assert replaced["is_default"] is False and replaced["rules"][0]["seconds"] == 5.0
    assert relay.deps.pools.rules[0].name == "short" and relay.deps.pools.rules[1].action == "retry"
    err = error(await admin.put("/api/admin/error-rules", {"rules": [{"status": "429", "action": "explode"}]}), 400)
    assert err["field"] == "rules[0].action"
    assert error(await admin.put("/api/admin/error-rules", {"rules": [rules[0], {"status": "abc", "action": "pass"}]}),
                 400)["field"] == "rules[1].status"
    error(await admin.put("/api/admin/error-rules", {"rules": []}), 400)
    error(await admin.put("/api/admin/error-rules", {}), 400)
    assert relay.deps.pools.rules[0].name == "short"  # a refused write changed nothing
    reset = ok(await admin.post("/api/admin/error-rules/reset"))
    assert reset["is_default"] is True and relay.deps.pools.rules == DEFAULT_RULES


async def test_prices_crud(admin, relay):
    listed = ok(await admin.get("/api/admin/prices"))["data"]
    assert listed and {"id", "pattern", "input", "output", "cache_write_5m", "cache_write_1h",
                       "cache_read"} <= set(listed[0])
    created = ok(await admin.post("/api/admin/prices", {"pattern": "test-model-*", "input": "2", "output": "8.5"}), 201)
    assert created["input"] == "2" and created["output"] == "8.5"
    assert created["cache_write_5m"] == "2.5" and created["cache_write_1h"] == "4" and created["cache_read"] == "0.2"
    assert (await relay.deps.prices.find("test-model-a")).input == 2_000_000
    error(await admin.post("/api/admin/prices", {"pattern": "test-model-*", "input": "1", "output": "1"}), 409)
    assert error(await admin.post("/api/admin/prices", {"pattern": "m", "input": "-1", "output": "1"}),
                 400)["field"] == "input"
    assert error(await admin.post("/api/admin/prices", {"pattern": "m", "input": "1"}), 400)["field"] == "output"
    assert error(await admin.post("/api/admin/prices", {"pattern": "bad pattern!", "input": "1", "output": "1"}),
                 400)["field"] == "pattern"
    patched = ok(await admin.patch(f"/api/admin/prices/{created['id']}", {"input": "3", "cache_read": "0.1"}))
    assert patched["input"] == "3" and patched["output"] == "8.5" and patched["cache_read"] == "0.1"
    assert (await relay.deps.prices.find("test-model-a")).input == 3_000_000
    renamed = ok(await admin.patch(f"/api/admin/prices/{created['id']}", {"pattern": "test-model-b"}))
    assert renamed["pattern"] == "test-model-b" and await relay.deps.prices.find("test-model-a") is None
    ok(await admin.delete(f"/api/admin/prices/{renamed['id']}"))
    assert await relay.deps.prices.find("test-model-b") is None
    error(await admin.delete(f"/api/admin/prices/{renamed['id']}"), 404)
    actions = [a["action"] for a in ok(await admin.get("/api/admin/audit?action=price.update"))["data"]]
    assert actions == ["price.update", "price.update"]


async def test_error_rules_are_validated_when_saved(admin, relay):
    before = relay.deps.pools.rules
    bad = [({"status": "429", "action": "cooldown", "seconds": float("inf")}, "seconds"),
           ({"status": "429", "action": "cooldown", "seconds": -1}, "seconds"),
           ({"status": "429", "action": "cooldown", "seconds": 10 ** 9}, "seconds"),
           ({"status": "429", "action": "cooldown", "sconds": 5}, "sconds"),
           ({"status": "connect", "action": "pass"}, "action"),
           ({"status": "400", "action": "pass", "message_pattern": "("}, "message_pattern"),
           ({"status": "400", "action": "pass", "error_type": 5}, "error_type")]
    for rule, field in bad:
        body = {"rules": [{"status": "5xx", "action": "retry"}, rule]}
        if rule.get("seconds") == float("inf"):
            response = await admin.http.put("/api/admin/error-rules", headers=admin.headers,
                                            content=b'{"rules":[{"status":"5xx","action":"retry"},'
                                                    b'{"status":"429","action":"cooldown","seconds":1e999}]}')
        else:
            response = await admin.put("/api/admin/error-rules", body)
        body = error(response, 400)
        # JSON has no infinity: 1e999 is refused as a body before any rule is read.
        assert body.get("field") == f"rules[1].{field}" or rule.get("seconds") == float("inf"), (rule, body)
    assert relay.deps.pools.rules == before  # a refused write changed nothing
