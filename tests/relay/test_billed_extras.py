"""What the vendor bills beyond tokens reaches the usage row and the cost computation (issue 12,
point 5, extraction side): web searches (Anthropic ``usage.server_tool_use.web_search_requests``;
Responses ``web_search_call`` output items), the service tier that served the request
(Anthropic ``usage.service_tier``; Responses' top-level ``service_tier``) and Anthropic's fast
mode (``usage.speed``), for JSON and streamed answers. The emulator reports them on knobs.
Pricing those quantities is the price rules' job: here only that they arrive."""

from __future__ import annotations

import pytest

from tests.relay.support import parse_sse

CASES = [(p, s) for p in ("anthropic", "openai") for s in (False, True)]


def call_of(protocol: str, stream: bool, claude_key: str, codex_key: str):
    if protocol == "anthropic":
        return "/v1/messages", {"x-api-key": claude_key}, {
            "model": "claude-sonnet-4-5", "max_tokens": 64, "stream": stream,
            "messages": [{"role": "user", "content": "search the web for relays"}]}
    return "/v1/responses", {"authorization": f"Bearer {codex_key}"}, {
        "model": "gpt-5.4", "stream": stream, "input": "search the web for relays",
        "tools": [{"type": "web_search"}]}


@pytest.mark.parametrize("protocol, stream", CASES, ids=[f"{p}-{'stream' if s else 'json'}" for p, s in CASES])
async def test_searches_tier_and_speed_reach_the_row(relay, pool, emu, claude_key, codex_key, user,
                                                     protocol, stream):
    for name in ("a1", "a2", "o1", "o2"):
        emu.state.patch(name, {"service_tier": "priority", "web_searches": 2, "speed": "fast"})
    path, headers, body = call_of(protocol, stream, claude_key, codex_key)
    async with relay.client() as http:
        r = await http.post(path, json=body, headers=headers)
    assert r.status_code == 200
    # The client gets the upstream's answer unchanged, searches and tier included.
    if protocol == "openai":
        final = parse_sse(r.content)[-1][1]["response"] if stream else r.json()
        assert final["service_tier"] == "priority"
        assert [i["type"] for i in final["output"]].count("web_search_call") == 2
    request_id = r.headers["x-jiuliu-request-id"]
    record = await relay.usage.wait_recorded(request_id)
    # compute_cost receives them (the rule prices them; pricing.py's business).
    assert record.cost().usage.web_search_requests == 2
    assert record.cost().usage.service_tier == "priority"
    assert record.cost().usage.speed == ("fast" if protocol == "anthropic" else "")
    await relay.deps.recorder.flush()
    row = await relay.deps.storage.db.usage.find_one({"request_id": request_id})
    assert row["web_search_requests"] == 2 and row["service_tier"] == "priority"
    assert row["speed"] == ("fast" if protocol == "anthropic" else "")
    assert row["estimated"] is False and row["tokens"]["output"] == 12


async def test_default_tiers_are_recorded_as_reported(relay, pool, claude_key, codex_key, user):
    async with relay.client() as http:
        ids = []
        for protocol in ("anthropic", "openai"):
            path, headers, body = call_of(protocol, True, claude_key, codex_key)
            r = await http.post(path, json=body, headers=headers)
            ids.append(r.headers["x-jiuliu-request-id"])
    rows = []
    for request_id in ids:
        await relay.usage.wait_recorded(request_id)
        await relay.deps.recorder.flush()
        rows.append(await relay.deps.storage.db.usage.find_one({"request_id": request_id}))
    assert [(r["service_tier"], r["web_search_requests"], r["speed"]) for r in rows] == [
        ("standard", 0, ""), ("default", 0, "")]


async def test_the_users_log_shows_tier_searches_and_estimates(relay, pool, emu, claude_key, codex_key, user):
    """GET /api/user/logs carries what the log detail and the CSV export show."""
    emu.state.patch("o1", {"service_tier": "flex", "web_searches": 1})
    emu.state.patch("o2", {"service_tier": "flex", "web_searches": 1})
    for name in ("a1", "a2"):
        emu.state.patch(name, {"fault": "eof", "cut_after": 2})
    async with relay.client() as http:
        path, headers, body = call_of("openai", False, claude_key, codex_key)
        first = (await http.post(path, json=body, headers=headers)).headers["x-jiuliu-request-id"]
        path, headers, body = call_of("anthropic", True, claude_key, codex_key)
        cut = (await http.post(path, json=body, headers=headers)).headers["x-jiuliu-request-id"]
        for request_id in (first, cut):
            await relay.usage.wait_recorded(request_id)
        await relay.deps.recorder.flush()
        token, _ = relay.deps.sessions.issue(user)
        logs = (await http.get("/api/user/logs", headers={"authorization": f"Bearer {token}"})).json()["data"]
    by_id = {row["id"]: row for row in logs}
    assert by_id[first]["service_tier"] == "flex" and by_id[first]["web_search_requests"] == 1
    assert by_id[first]["estimated"] is False
    assert by_id[cut]["estimated"] is True and by_id[cut]["estimate_method"] == "message_start+streamed"
