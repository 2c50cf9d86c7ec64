"""Statistics, request log, transactions and prices read over HTTP, with usage rows charged
through the real ``ChargeService`` and every number checked exactly."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from server.pricing.pricing import PriceRule
from server.pricing.usage import Usage
from tests.accounts_support import account, usage_record

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
async def world(relay):
    """One user with 100 credited, two keys (claude, and codex at ×1.5) and five charged requests."""
    deps = relay.deps
    # Operator rules (they beat the catalogue) keep this module's hand-computed figures simple.
    await deps.prices.upsert(PriceRule.build("claude-sonnet-4*", input=3_000_000, output=15_000_000))
    await deps.prices.upsert(PriceRule.build("gpt-5*", input=1_250_000, output=10_000_000, cache_read=125_000,
                                             placeholder=True))
    await deps.groups.update("codex", multiplier_ppm=1_500_000)
    await deps.runtime_settings.update(recharge_mode="open")
    async with relay.client() as http:
        acct = await account(http)
        other = await account(http)
        assert (await acct.post("/api/user/recharge", {"amount": 100})).status_code == 201
        k1 = (await acct.post("/api/user/keys", {"name": "main"})).json()
        k2 = (await acct.post("/api/user/keys", {"name": "ci", "group": "codex"})).json()
        now = dt.datetime.now(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        plan = [  # (key, model, group, usage, ts) -> cost
            (k1, "claude-sonnet-4-5", "claude", Usage(input=1000, output=200), midnight + (now - midnight) / 2),
            (k1, "claude-opus-4-1", "claude", Usage(input=100, output=100, cache_read=10_000, cache_write_5m=2000),
             now - dt.timedelta(days=3)),
            (k2, "gpt-5.4", "codex", Usage(input=4000, output=1000, cache_read=8000, reasoning=500),
             now - dt.timedelta(days=5)),
            (k1, "claude-sonnet-4-5", "claude", Usage(input=2000), now - dt.timedelta(days=20)),
            (k1, "claude-sonnet-4-5", "claude", Usage(input=1_000_000), now - dt.timedelta(days=40)),
        ]
        rows = []
        for key, model, group, usage, ts in plan:
            record = await usage_record(deps, acct.id, key["id"], model=model, group=group, usage=usage,
                                        ts=ts.replace(microsecond=ts.microsecond // 1000 * 1000),
                                        key_name=key["name"])
            rows.append(await deps.charges.charge(record))
        yield {"acct": acct, "other": other, "k1": k1, "k2": k2, "rows": rows, "http": http}
    await deps.groups.update("codex", multiplier_ppm=1_000_000)
    await deps.runtime_settings.update(recharge_mode="manual")


async def test_costs_are_exact(world):
    assert [row["cost"] for row in world["rows"]] == [6000, 61_500, 24_000, 6000, 3_000_000]


async def test_stats(world):
    acct = world["acct"]
    stats = (await acct.get("/api/user/stats")).json()
    assert stats["balance"] == 100_000_000 - 3_097_500 and stats["balance_display"] == "96.9025"
    periods = stats["periods"]
    assert (periods["today"]["requests"], periods["today"]["cost"]) == (1, 6000)
    assert (periods["7d"]["requests"], periods["7d"]["cost"]) == (3, 91_500)
    assert (periods["30d"]["requests"], periods["30d"]["cost"], periods["30d"]["cost_display"]) == (4, 97_500, "0.0975")
    assert periods["30d"]["tokens"] == {"input": 7100, "output": 1300, "cache_write_5m": 2000,
                                        "cache_write_1h": 0, "cache_read": 18_000, "reasoning": 500}
    assert [(m["model"], m["requests"], m["cost"]) for m in stats["by_model"]] == [
        ("claude-opus-4-1", 1, 61_500), ("gpt-5.4", 1, 24_000), ("claude-sonnet-4-5", 2, 12_000)]
    assert [(k["key_id"], k["key_name"], k["requests"], k["cost"]) for k in stats["by_key"]] == [
        (world["k1"]["id"], "main", 3, 73_500), (world["k2"]["id"], "ci", 1, 24_000)]
    other = (await world["other"].get("/api/user/stats")).json()
    assert other["periods"]["30d"] == {"since": other["periods"]["30d"]["since"], "requests": 0, "cost": 0,
                                       "cost_display": "0", "tokens": {k: 0 for k in periods["30d"]["tokens"]}}
    assert other["by_model"] == [] and other["by_key"] == []


def _day(ts: dt.datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d")


async def test_daily_series(world):
    """30 zero-filled UTC days, oldest first, summed per day; the 40-day-old row is outside."""
    daily = (await world["acct"].get("/api/user/stats")).json()["daily"]
    today = dt.datetime.now(UTC).date()
    assert [d["date"] for d in daily] == [(today - dt.timedelta(days=29 - i)).isoformat() for i in range(30)]
    rows = world["rows"]
    expected = {_day(rows[i]["ts"]): i for i in range(4)}
    assert len(expected) == 4 and _day(rows[4]["ts"]) not in {d["date"] for d in daily}
    by_date = {d["date"]: d for d in daily}
    tokens = {"input": 100, "output": 100, "cache_write_5m": 2000, "cache_write_1h": 0, "cache_read": 10_000}
    assert by_date[_day(rows[1]["ts"])] == {"date": _day(rows[1]["ts"]), "requests": 1, "cost": 61_500,
                                            "cost_display": "0.0615", "tokens": tokens}
    assert by_date[_day(rows[2]["ts"])]["tokens"] == {"input": 4000, "output": 1000, "cache_write_5m": 0,
                                                      "cache_write_1h": 0, "cache_read": 8000}  # no reasoning
    assert [(d["requests"], d["cost"]) for d in daily if d["date"] in expected] == [(1, 6000), (1, 24_000),
                                                                                    (1, 61_500), (1, 6000)]
    empty = [d for d in daily if d["date"] not in expected]
    assert len(empty) == 26 and all(d["requests"] == d["cost"] == 0 and d["cost_display"] == "0"
                                    and set(d["tokens"].values()) == {0} for d in empty)
    other = (await world["other"].get("/api/user/stats")).json()["daily"]
    assert len(other) == 30 and sum(d["requests"] for d in other) == 0


async def test_daily_series_edges(relay, world, monkeypatch):
    """Rows on one day add up; the window is [first day 00:00 UTC, tomorrow 00:00 UTC) by the relay's clock."""
    deps = relay.deps
    now = time.time()
    monkeypatch.setattr(deps.clock, "now", lambda: now)
    today = dt.datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - dt.timedelta(days=29)
    ms = dt.timedelta(milliseconds=1)
    acct = await account(world["http"])
    assert (await acct.post("/api/user/recharge", {"amount": 10})).status_code == 201
    key = (await acct.post("/api/user/keys", {"name": "edges"})).json()
    plan = [(first - ms, Usage(input=1000)),                     # the day before the window: left out
            (first, Usage(input=1000)),                          # 3000
            (first + dt.timedelta(days=1) - ms, Usage(output=1000)),  # 15000, still the first day
            (today - dt.timedelta(days=10), Usage(input=2000)),  # 6000
            (today - dt.timedelta(days=10) + dt.timedelta(hours=23, minutes=59), Usage(input=1000, cache_read=1000)),
            (today, Usage(input=1, output=1)),                   # 3 + 15 = 18
            (today + dt.timedelta(days=1), Usage(input=1000))]   # tomorrow (a skewed clock): left out
    for ts, usage in plan:
        await deps.charges.charge(await usage_record(deps, acct.id, key["id"], usage=usage, ts=ts))
    daily = {d["date"]: d for d in (await acct.get("/api/user/stats")).json()["daily"]}
    assert len(daily) == 30 and min(daily) == _day(first) and max(daily) == _day(today)
    assert (daily[_day(first)]["requests"], daily[_day(first)]["cost"]) == (2, 18_000)
    assert daily[_day(first)]["tokens"] == {"input": 1000, "output": 1000, "cache_write_5m": 0,
                                            "cache_write_1h": 0, "cache_read": 0}
    ten = daily[_day(today - dt.timedelta(days=10))]
    assert (ten["requests"], ten["cost"], ten["cost_display"]) == (2, 9300, "0.0093")
    assert ten["tokens"]["input"] == 3000 and ten["tokens"]["cache_read"] == 1000
    assert (daily[_day(today)]["requests"], daily[_day(today)]["cost"]) == (1, 18)
    assert sum(d["requests"] for d in daily.values()) == 5


async def test_logs_page_and_filters(world):
    acct, rows = world["acct"], world["rows"]
    page = (await acct.get("/api/user/logs")).json()
    assert page["total"] == 5 and page["limit"] == 100 and page["offset"] == 0
    assert [r["id"] for r in page["data"]] == [row["_id"] for row in rows]  # planned newest first
    first = page["data"][2]
    assert first["key_id"] == world["k2"]["id"] and first["key_name"] == "ci" and first["group"] == "codex"
    assert first["model"] == "gpt-5.4" and first["stream"] is True and first["status"] == 200
    assert first["outcome"] == "ok" and first["latency_ms"] == 1234 and first["ttft_ms"] == 321
    assert first["tokens"]["cache_read"] == 8000 and first["tokens"]["reasoning"] == 500
    assert first["prices"]["input"] == 1_250_000 and first["prices_display"]["cache_read"] == "0.125"
    assert first["multiplier_ppm"] == 1_500_000 and first["multiplier"] == "1.5"
    assert first["cost"] == 24_000 and first["cost_display"] == "0.024"
    assert first["upstream_request_id"].startswith("msg_up_") and first["ts"].endswith("Z")
    assert "account_id" not in first and "client_ip" not in first

    async def ids(**params):
        r = await acct.get("/api/user/logs", params=params)
        assert r.status_code == 200, r.text
        return [row["id"] for row in r.json()["data"]], r.json()["total"]

    assert await ids(key=world["k2"]["id"]) == ([rows[2]["_id"]], 1)
    assert await ids(model="claude-sonnet-4-5") == ([rows[0]["_id"], rows[3]["_id"], rows[4]["_id"]], 3)
    assert await ids(limit=2, offset=1) == ([rows[1]["_id"], rows[2]["_id"]], 5)
    since = (dt.datetime.now(UTC) - dt.timedelta(days=10)).isoformat()
    until = (dt.datetime.now(UTC) - dt.timedelta(days=4)).isoformat()
    assert await ids(**{"from": since, "to": until}) == ([rows[2]["_id"]], 1)
    r = await acct.get("/api/user/logs", params={"limit": 100_000})
    assert r.json()["limit"] == 500
    for params, field in (({"limit": "abc"}, "limit"), ({"offset": "-1"}, "offset"), ({"from": "yesterday"}, "from")):
        r = await acct.get("/api/user/logs", params=params)
        assert r.status_code == 400 and r.json()["error"]["field"] == field
    other = (await world["other"].get("/api/user/logs")).json()
    assert other["data"] == [] and other["total"] == 0


async def test_key_totals_follow_charges(world):
    keys = {k["id"]: k for k in (await world["acct"].get("/api/user/keys")).json()["data"]}
    main = keys[world["k1"]["id"]]
    assert main["usage"]["requests"] == 4 and main["usage"]["cost"] == 3_073_500
    assert main["usage"]["input"] == 1_003_100 and main["usage"]["costDisplay"] == "3.0735"
    assert main["lastUsedAt"] is not None and main["lastUsedAt"].endswith("Z")


async def test_transactions(world):
    acct = world["acct"]
    page = (await acct.get("/api/user/transactions")).json()
    assert page["total"] == 6 and len(page["data"]) == 6
    assert sorted(row["type"] for row in page["data"]) == ["charge"] * 5 + ["recharge"]
    assert sum(row["amount"] for row in page["data"]) == 96_902_500
    recharge = next(row for row in page["data"] if row["type"] == "recharge")
    assert recharge["amount"] == 100_000_000 and recharge["amount_display"] == "100"
    assert recharge["description"].startswith("充值")
    charge = next(row for row in page["data"] if row["ref"] == world["rows"][2]["_id"])
    assert charge["amount"] == -24_000 and charge["amount_display"] == "-0.024"
    assert charge["description"] == "API 调用扣费(gpt-5.4)" and charge["balance_after"] is not None
    assert set(charge) >= {"type", "amount", "balance_after", "ref", "ts", "description"}
    r = await acct.get("/api/user/transactions", params={"type": "recharge", "limit": 1})
    assert r.json()["total"] == 1 and r.json()["data"][0]["type"] == "recharge"
    assert (await acct.get("/api/user/transactions", params={"type": "bogus"})).status_code == 400
    assert (await world["other"].get("/api/user/transactions")).json()["total"] == 0


async def test_pricing(world):
    body = (await world["acct"].get("/api/user/pricing")).json()
    assert body["currency"] == "USD" and body["unit"] == "per_million_tokens"
    assert body["web_search_unit"] == "per_thousand_requests"
    assert {g["name"]: g["multiplier"] for g in body["groups"]} == {"claude": "1", "codex": "1.5"}
    assert body["catalogue"]["version"] == "genai-prices 0.2.5" and body["catalogue"]["pending"] is None
    assert body["operator_rules"] == ["claude-sonnet-4*", "gpt-5*"]
    rules = {(rule["source"], rule["pattern"]): rule for rule in body["data"]}
    sonnet = rules["operator", "claude-sonnet-4*"]
    assert sonnet["operator_changed"] is True and sonnet["placeholder"] is False
    assert rules["operator", "gpt-5*"]["placeholder"] is True
    assert sonnet["prices"] == {"input": "3", "input_micro": 3_000_000, "output": "15", "output_micro": 15_000_000,
                                "cache_write_5m": "3.75", "cache_write_5m_micro": 3_750_000,
                                "cache_write_1h": "6", "cache_write_1h_micro": 6_000_000,
                                "cache_read": "0.3", "cache_read_micro": 300_000,
                                "web_search": "0", "web_search_micro": 0}
    by_group = {g["group"]: g for g in rules["operator", "gpt-5*"]["groups"]}
    assert by_group["codex"]["multiplier_ppm"] == 1_500_000
    assert by_group["codex"]["prices"]["input"] == "1.875" and by_group["codex"]["prices"]["output_micro"] == 15_000_000
    assert by_group["claude"]["prices"]["cache_read"] == "0.125"
    # the catalogue in force, the vendors' prices, each entry naming the operator rule that beats it
    opus = rules["catalogue", "claude-opus-4-6"]
    assert opus["operator_changed"] is False and opus["catalogue_version"] == "genai-prices 0.2.5"
    assert opus["overridden_by"] is None
    assert [opus["prices"][k] for k in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read",
                                        "web_search")] == ["5", "25", "6.25", "10", "0.5", "10"]
    assert [rules["catalogue", "claude-opus-5-5"]["prices"][k] for k in ("input", "output", "cache_read")] == \
        ["4", "20", "0.2"]
    gpt = rules["catalogue", "gpt-5.4"]
    assert gpt["overridden_by"] == "gpt-5*" and rules["catalogue", "claude-sonnet-4-5"]["overridden_by"] == "claude-sonnet-4*"
    assert [gpt["prices"][k] for k in ("input", "output", "cache_read")] == ["2.5", "15", "0.25"]
    assert gpt["tiers"][0]["above"] == 272_000 and gpt["tiers"][0]["prices"]["input"] == "5"
    priority = next(v for v in gpt["variants"] if v["when"] == {"service_tier": "priority"})
    assert priority["prices"]["output"] == "30"
    codex = {g["group"]: g for g in gpt["groups"]}["codex"]
    assert codex["tiers"][0]["prices"]["output"] == "33.75"  # $22.50 × 1.5
    assert [rules["catalogue", m]["prices"]["input"] for m in ("gpt-5.5", "gpt-5.2", "gpt-5.1-codex-mini")] == \
        ["5", "1.75", "0.25"]


async def test_a_flush_entry_links_to_the_rows_it_charged(relay, world):
    """One ledger entry per user per usage flush: the transactions view shows it with its sum and
    a link to its rows; another user cannot follow the link."""
    deps, http = relay.deps, world["http"]
    acct = await account(http)
    assert (await acct.post("/api/user/recharge", {"amount": 10})).status_code == 201
    key = (await acct.post("/api/user/keys", {"name": "batch"})).json()
    records = [await usage_record(deps, acct.id, key["id"]) for _ in range(3)]
    await deps.charges.charge_many(records)
    page = (await acct.get("/api/user/transactions", params={"type": "charge"})).json()
    assert page["total"] == 1
    entry = page["data"][0]
    assert entry["amount"] == -3 * 6000 and entry["rows"] == 3 and entry["applied"]
    assert entry["description"] == "API 调用扣费(claude-sonnet-4-5)"
    linked = (await acct.get(entry["rows_url"])).json()
    assert sorted(r["id"] for r in linked["data"]) == sorted(r.request_id for r in records)
    assert sum(r["cost"] for r in linked["data"]) == -entry["amount"] and linked["entry"]["id"] == entry["id"]
    assert (await world["other"].get(entry["rows_url"])).status_code == 404
