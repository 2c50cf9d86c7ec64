"""The operator's day with the API alone: a new group served by two emulator accounts, one
failing and coming back after a probe, a recharge approved, a price changed and the next
relayed request charged at it. Then the metrics the relay exported meanwhile."""

from __future__ import annotations

import httpx
import pytest_asyncio

from tests.admin.support import Api, error, ok, signed_in
from tests.relay.support import make_key

SCENARIO_TOKEN = "scenario-metrics-token"
MSG = {"max_tokens": 32, "messages": [{"role": "user", "content": "hello"}]}


async def _relay_call(http: httpx.AsyncClient, key: str, model: str, i: int) -> httpx.Response:
    return await http.post("/v1/messages", headers={"x-api-key": key},
                           json={**MSG, "model": model, "messages": [{"role": "user", "content": f"c{i}"}]})


async def test_operator_scenario(relay, admin, emu):
    emu.state.reset(knobs=True)
    # 1. A new group and two accounts serving it.
    ok(await admin.post("/api/admin/groups", {"name": "team", "protocol": "anthropic", "multiplier": "2"}), 201)
    first = ok(await admin.post("/api/admin/upstreams", {
        "name": "team-e1", "groups": ["team"], "protocol": "anthropic", "base_url": emu.base_url,
        "api_key": "emu-key-e1"}), 201)
    second = ok(await admin.post("/api/admin/upstreams", {
        "name": "team-e2", "groups": ["team"], "protocol": "anthropic", "base_url": emu.base_url,
        "api_key": "emu-key-e2"}), 201)
    group = next(g for g in ok(await admin.get("/api/admin/groups"))["data"] if g["name"] == "team")
    assert {a["name"] for a in group["accounts"]} == {"team-e1", "team-e2"}

    # 2. A customer files a recharge; the operator approves it.
    user, token = await signed_in(relay, "user", balance=0)
    key = await make_key(relay.deps.storage, user["_id"], "team")
    async with relay.client() as http:
        customer = Api(http, token)
        order = ok(await customer.post("/api/user/recharge", {"amount": "50", "description": "转账"}), 201)["order"]
        pending = ok(await admin.get("/api/admin/recharges?status=pending"))["data"]
        assert order["id"] in {o["id"] for o in pending}
        assert ok(await admin.post(f"/api/admin/recharges/{order['id']}/approve"))["status"] == "credited"
        assert ok(await admin.get(f"/api/admin/users/{user['_id']}"))["balance"] == 50_000_000

        # 3. One account starts failing: the relay fails over and the account cools down.
        emu.state.patch("e1", {"fault": "500"})
        for i in range(4):
            r = await _relay_call(http, key, "claude-sonnet-4-5", i)
            assert r.status_code == 200, r.text
        listing = {a["id"]: a for a in ok(await admin.get("/api/admin/upstreams"))["data"]}
        assert listing[first["id"]]["state"]["status"] == "cooling"
        assert listing[first["id"]]["live"]["status"] == "cooling"
        assert listing[first["id"]]["live"]["last_error"] == "500:api_error"
        assert listing[second["id"]]["live"]["status"] == "healthy"
        assert listing[second["id"]]["live"]["stats_5m"]["requests"] >= 4

        # 4. It recovers. A successful test does not cut the rule's rest short (only a transport
        # error's cooldown ends on a good probe); the operator's enable brings it back at once.
        emu.state.patch("e1", {"fault": None})
        assert ok(await admin.post(f"/api/admin/upstreams/{first['id']}/test"))["ok"] is True
        listing = {a["id"]: a for a in ok(await admin.get("/api/admin/upstreams"))["data"]}
        assert listing[first["id"]]["live"]["status"] == "cooling"
        ok(await admin.post(f"/api/admin/upstreams/{first['id']}/enable"))
        listing = {a["id"]: a for a in ok(await admin.get("/api/admin/upstreams"))["data"]}
        assert listing[first["id"]]["live"]["status"] == "healthy"

        # 5. A new price applies to the next request; earlier rows keep theirs.
        price = ok(await admin.post("/api/admin/prices", {"pattern": "claude-sonnet-4-5", "input": "7",
                                                           "output": "11", "cache_write_5m": "0",
                                                           "cache_write_1h": "0", "cache_read": "0"}), 201)
        before_rows = [d async for d in relay.deps.storage.db.usage.find({"user_id": user["_id"]})]
        r = await _relay_call(http, key, "claude-sonnet-4-5", 99)
        assert r.status_code == 200, r.text
        request_id = r.headers["x-jiuliu-request-id"]
        await relay.usage.wait_recorded(request_id)
        await relay.deps.recorder.flush()
        row = await relay.deps.storage.db.usage.find_one({"_id": request_id})
        assert row["prices"]["input"] == 7_000_000 and row["prices"]["output"] == 11_000_000
        tokens = row["tokens"]
        expected = (tokens["input"] * 7_000_000 + tokens["output"] * 11_000_000) * 2 // 1_000_000
        assert abs(row["cost"] - expected) <= 1 and row["cost"] > 0
        for old in before_rows:
            again = await relay.deps.storage.db.usage.find_one({"_id": old["_id"]})
            assert again["prices"] == old["prices"] and again["prices"]["input"] != 7_000_000
        ok(await admin.delete(f"/api/admin/prices/{price['id']}"))

        # 6. The customer's detail shows the usage; the overview counts the day.
        detail = ok(await admin.get(f"/api/admin/users/{user['_id']}"))
        assert detail["usage_total"] >= 5 and detail["balance"] < 50_000_000
        overview = ok(await admin.get("/api/admin/overview"))
        assert overview["today"]["requests"] >= 5 and overview["today"]["revenue"] > 0
        assert abs(overview["today"]["upstream_cost"] * 2 - overview["today"]["revenue"]) <= 10  # group ×2

        # 7. Metrics saw all of it, refused requests included.
        assert (await _relay_call(http, "sk-not-a-key", "claude-sonnet-4-5", 0)).status_code == 401
        text = (await http.get("/metrics", headers={"Authorization": f"Bearer {SCENARIO_TOKEN}"})).text
        assert 'jiuliu_requests_total{group="",route="/v1/messages",status="401"} 1.0' in text
        assert 'jiuliu_requests_total{group="team",route="/v1/messages",status="200"}' in text
        assert 'jiuliu_upstream_failures_total{account="team-e1",action="cooldown",error_class="500:api_error"}' in text
        assert 'jiuliu_upstream_healthy{account="team-e1",status="healthy"} 1.0' in text
        assert "jiuliu_time_to_first_token_seconds_bucket" in text and "jiuliu_charged_micro_total" in text


@pytest_asyncio.fixture(scope="module")
async def relay(storage):
    """This module's relay, with a metrics token (``/metrics`` is closed without one)."""
    from tests.support import RelayUnderTest

    server = await RelayUnderTest.start(storage, metrics_token=SCENARIO_TOKEN)
    yield server
    await server.stop()


async def test_metrics_token(relay, storage):
    from tests.support import RelayUnderTest

    guarded = await RelayUnderTest.start(storage, metrics_token="s3cret-token")
    try:
        async with guarded.client() as http:
            error(await http.get("/metrics"), 401)
            error(await http.get("/metrics", headers={"Authorization": "Bearer nope"}), 401)
            r = await http.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
            assert "jiuliu_active_requests" in r.text and "\njiuliu_usage_pending " in r.text
    finally:
        await guarded.stop()
    open_metrics = await RelayUnderTest.start(storage, metrics_open=True)
    try:
        async with open_metrics.client() as http:
            assert (await http.get("/metrics")).status_code == 200  # opened explicitly
    finally:
        await open_metrics.stop()


async def test_metrics_closed_without_a_token(storage):
    """F12: no token configured no longer means open: account names and revenue stay private."""
    from tests.support import RelayUnderTest

    closed = await RelayUnderTest.start(storage)
    try:
        async with closed.client() as http:
            r = await http.get("/metrics")
            assert error(r, 403) and "metrics_token" in r.json()["error"]["message"]
            assert "jiuliu_" not in r.text
    finally:
        await closed.stop()
