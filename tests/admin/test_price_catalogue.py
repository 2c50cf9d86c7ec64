"""The price catalogue over the operator API: review and apply of a newer catalogue version, and
editing rules whose cache prices follow the input price by the model's own ratios (the
migration of old installs and the CLI are in tests/test_price_migration.py)."""

from __future__ import annotations

import copy

from server.pricing.pricing import compute_cost
from server.pricing.usage import Usage
from server.pools.manager import KNOWN_MODELS
from server.storage.prices import POINTER_ID
from tests.admin.support import error, ok
from tests.relay.support import add_upstreams

INSTALLED = "genai-prices 0.2.5"


async def test_review_and_apply_a_newer_catalogue(admin, relay):
    storage, prices = relay.deps.storage, relay.deps.prices
    # An older catalogue in force (as after an upgrade): claude-opus-4-6 at the old $15/$75, no gpt-5.5.
    current = await storage.db.price_catalogues.find_one({"_id": INSTALLED})
    older = copy.deepcopy(current)
    older["_id"] = "genai-prices 0.0.1"
    for entry in older["entries"]:
        if entry["model"] == "claude-opus-4-6":
            entry["prices"].update(input=15_000_000, output=75_000_000)
    older["entries"] = [e for e in older["entries"] if e["model"] != "gpt-5.5"]
    await storage.db.price_catalogues.insert_one(older)
    assert await prices.apply("genai-prices 0.0.1", "test")
    assert (await prices.find("claude-opus-4-6")).input == 15_000_000
    await prices.prepare()  # a restart never reprices silently
    assert (await prices.find("claude-opus-4-6")).input == 15_000_000
    review = ok(await admin.get("/api/admin/prices/catalogue"))
    assert (review["active"], review["pending"], review["installed"]) == ("genai-prices 0.0.1", INSTALLED, INSTALLED)
    changes = {c["model"]: c for c in review["diff"]}
    assert changes["claude-opus-4-6"]["change"] == "changed" and "input" in changes["claude-opus-4-6"]["fields"]
    assert changes["claude-opus-4-6"]["after"]["input"] == 5_000_000 and changes["gpt-5.5"]["change"] == "added"
    listed = ok(await admin.get("/api/admin/prices"))
    assert listed["catalogue"]["pending"] == INSTALLED
    before = await storage.db.settings.find_one({"_id": POINTER_ID})
    assert error(await admin.post("/api/admin/prices/catalogue/apply", {"version": "genai-prices 9"}), 409)["field"] == "version"
    assert await storage.db.settings.find_one({"_id": POINTER_ID}) == before  # a refused apply changed nothing
    applied = ok(await admin.post("/api/admin/prices/catalogue/apply", {"version": INSTALLED}))
    assert applied["active"] == INSTALLED and applied["pending"] is None and applied["diff"] == []
    assert (await prices.find("claude-opus-4-6")).input == 5_000_000
    assert (await prices.find("gpt-5.5")).output == 30_000_000
    audit = ok(await admin.get("/api/admin/audit?action=price.catalogue.apply"))["data"]
    assert [(a["target"], a["before"], a["after"]) for a in audit] == \
        [(INSTALLED, {"active": "genai-prices 0.0.1"}, {"active": INSTALLED})]


async def test_editing_a_rule_moves_the_cache_prices_that_were_not_set(admin, relay):
    prices = relay.deps.prices
    # claude-opus-4-6's own ratios (catalogue: 6.25/5, 10/5, 0.5/5)
    rule = ok(await admin.post("/api/admin/prices", {"pattern": "claude-opus-4-6", "input": "6", "output": "30"}), 201)
    assert (rule["cache_write_5m"], rule["cache_write_1h"], rule["cache_read"]) == ("7.5", "12", "0.6")
    assert rule["explicit"] == ["input", "output"] and rule["source"] == "operator"
    rule = ok(await admin.patch(f"/api/admin/prices/{rule['id']}", {"input": "8"}))
    assert (rule["cache_write_5m"], rule["cache_write_1h"], rule["cache_read"]) == ("10", "16", "0.8")
    rule = ok(await admin.patch(f"/api/admin/prices/{rule['id']}", {"cache_read": "0.5"}))
    rule = ok(await admin.patch(f"/api/admin/prices/{rule['id']}", {"input": "4"}))
    assert (rule["cache_write_5m"], rule["cache_write_1h"], rule["cache_read"]) == ("5", "8", "0.5")
    assert sorted(rule["explicit"]) == ["cache_read", "input", "output"]
    rule = ok(await admin.patch(f"/api/admin/prices/{rule['id']}", {"cache_read": None}))  # follow input again
    assert rule["cache_read"] == "0.4" and "cache_read" not in rule["explicit"]
    priced = await prices.find("claude-opus-4-6")
    assert priced.source == "operator" and compute_cost(Usage(input=1000, cache_read=1000), priced).total == 4_400
    ok(await admin.delete(f"/api/admin/prices/{rule['id']}"))
    assert (await prices.find("claude-opus-4-6")).source == "catalogue"
    # gpt-5.4's ratios: cached input at 0.1×; no cache writes on the Responses API (billed as input)
    gpt = ok(await admin.post("/api/admin/prices", {"pattern": "gpt-5.4*", "input": "3", "output": "18"}), 201)
    assert (gpt["cache_read"], gpt["cache_write_5m"]) == ("0.3", "3")
    # an Anthropic model the catalogue lacks: 1.25× / 2× / 0.1×
    other = ok(await admin.post("/api/admin/prices", {"pattern": "claude-mystery-1", "input": "2", "output": "4"}), 201)
    assert (other["cache_write_5m"], other["cache_write_1h"], other["cache_read"]) == ("2.5", "4", "0.2")
    assert other["web_search"] == "0" and gpt["web_search"] == "10"  # the catalogue's price for its model
    for doc in (gpt, other):
        ok(await admin.delete(f"/api/admin/prices/{doc['id']}"))


async def test_editing_a_catalogue_entry_makes_an_operator_rule(admin, relay):
    prices = relay.deps.prices
    rule = ok(await admin.patch("/api/admin/prices/cat:claude-haiku-4-5", {"output": "6"}))
    assert rule["source"] == "operator" and rule["pattern"] == "claude-haiku-4-5"
    assert (rule["input"], rule["output"], rule["cache_read"], rule["web_search"]) == ("1", "6", "0.1", "10")
    listed = {(r["source"], r["pattern"]): r for r in ok(await admin.get("/api/admin/prices"))["data"]}
    assert listed["catalogue", "claude-haiku-4-5"]["overridden_by"] == "claude-haiku-4-5"
    assert (await prices.find("claude-haiku-4-5")).output == 6_000_000
    assert error(await admin.delete("/api/admin/prices/cat:claude-haiku-4-5"), 400)["field"] == "id"
    error(await admin.patch("/api/admin/prices/cat:no-such-model", {"output": "1"}), 404)
    ok(await admin.delete(f"/api/admin/prices/{rule['id']}"))
    assert (await prices.find("claude-haiku-4-5")).output == 5_000_000


async def test_models_the_pools_serve_and_how_each_is_priced(admin, relay, emu):
    """The price page lists every model the pools offer with what prices it: the catalogue, its
    base model (flagged) or nothing (refused before any upstream call)."""
    await add_upstreams(relay.deps, emu, ["e1"], "claude", "anthropic")
    await add_upstreams(relay.deps, emu, ["e2"], "codex", "openai",
                        models=["gpt-5.4", "gpt-5.4-codex", "gpt-9-unknown"])
    served = {m["model"]: m for m in ok(await admin.get("/api/admin/prices/catalogue"))["served"]}
    assert set(served) >= set(KNOWN_MODELS["anthropic"]) | {"gpt-5.4", "gpt-5.4-codex", "gpt-9-unknown"}
    assert served["claude-opus-4-6"] == {"model": "claude-opus-4-6", "source": "catalogue", "rule": "claude-opus-4-6",
                                         "base_model": None, "input": "5", "output": "25"}
    assert (served["gpt-5.4-codex"]["rule"], served["gpt-5.4-codex"]["base_model"]) == ("gpt-5.4", "gpt-5.4")
    assert served["gpt-9-unknown"]["source"] is None
    assert all(m["source"] for name, m in served.items() if name != "gpt-9-unknown")
