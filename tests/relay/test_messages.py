"""/v1/messages and /v1/responses end to end: official SDKs, captured client requests, and
charges equal to hand-computed values from the emulator's deterministic usage."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from emulator import PromptCache, anthropic_usage, responses_usage
from tests.relay.support import FIXTURES, fixture, parse_sse


async def _charged(relay, request_id):
    await relay.usage.wait_recorded(request_id)  # the handler records after the answer
    await relay.deps.recorder.flush()
    return await relay.deps.storage.db.usage.find_one({"request_id": request_id})


async def _balance(relay, user_id):
    return (await relay.deps.storage.db.users.find_one({"_id": user_id}))["balance"]


def sonnet_cost(u: dict) -> int:
    """claude-sonnet-4-5 (the catalogue, below 200k input): $3 in, $15 out, $3.75 5m write, $6 1h write, $0.30 read per MTok, in micro."""
    numerator = (u.get("input_tokens", 0) * 3_000_000 + u.get("output_tokens", 0) * 15_000_000
                 + u.get("cache_creation", {}).get("ephemeral_5m_input_tokens", 0) * 3_750_000
                 + u.get("cache_creation", {}).get("ephemeral_1h_input_tokens", 0) * 6_000_000
                 + u.get("cache_read_input_tokens", 0) * 300_000)
    return (numerator + 500_000) // 1_000_000


async def test_anthropic_sdk_create_stream_count(relay, pool, claude_key, user):
    client = anthropic.AsyncAnthropic(api_key=claude_key, base_url=relay.base_url, max_retries=0)
    try:
        msg = await client.messages.create(model="claude-sonnet-5-5", max_tokens=64,
                                           messages=[{"role": "user", "content": "say hi"}])
        assert msg.type == "message" and msg.content[0].type == "text" and msg.usage.output_tokens == 12
        async with client.messages.stream(model="claude-sonnet-5-5", max_tokens=64,
                                          messages=[{"role": "user", "content": "say hi"}]) as stream:
            final = await stream.get_final_message()
        assert final.usage.output_tokens == 12 and final.stop_reason == "end_turn"
        count = await client.messages.count_tokens(model="claude-sonnet-5-5",
                                                   messages=[{"role": "user", "content": "say hi"}])
        assert count.input_tokens > 0
    finally:
        await client.close()


async def test_openai_sdk_create_and_stream(relay, pool, codex_key):
    client = openai.AsyncOpenAI(api_key=codex_key, base_url=relay.base_url + "/v1", max_retries=0)
    try:
        resp = await client.responses.create(model="gpt-5.4", input="say hi")
        assert resp.status == "completed" and resp.usage.output_tokens == 12
        stream = await client.responses.create(model="gpt-5.4", input="say hi", stream=True,
                                               reasoning={"effort": "low"})
        types = [event.type async for event in stream]
        assert types[0] == "response.created" and types[-1] == "response.completed"
        models = await client.models.list()
        assert "gpt-5.4" in [m.id for m in models.data]
    finally:
        await client.close()


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
async def test_captured_client_requests_replay(relay, pool, claude_key, codex_key, name):
    req = fixture(name)
    codex = "responses" in req["path"]
    key = codex_key if codex else claude_key
    headers = {}
    has_auth = any(h.lower() in ("authorization", "x-api-key") for h, _ in req["headers"])
    for hname, value in req["headers"]:
        lower = hname.lower()
        if lower in ("host", "content-length", "connection", "accept-encoding"):
            continue
        if lower == "authorization":
            value = f"Bearer {key}"
        elif lower == "x-api-key":
            value = key
        headers[hname] = value
    query = "&".join(f"{k}={v}" for k, vs in req["query"].items() for v in vs)
    url = req["path"] + (f"?{query}" if query else "")
    async with relay.client() as http:
        if req["method"] == "HEAD":
            r = await http.head(url, headers=headers)
            assert r.status_code == 200
            return
        if not has_auth:
            # Captured without credentials: refused as is, accepted once the key is configured.
            r = await http.request(req["method"], url, headers=headers, json=req["body"])
            assert r.status_code == 401 and r.json()["error"]["message"] == "无效的 API Key"
            headers["authorization"] = f"Bearer {key}"
        r = await http.request(req["method"], url, headers=headers, json=req["body"])
    assert r.status_code == 200, r.text
    if not req["path"].endswith("count_tokens"):
        # every form of the path (/v1/messages?beta=true, /messages, /responses) is billed
        row = await _charged(relay, r.headers["x-jiuliu-request-id"])
        assert row["endpoint"] == req["path"] and row["model"] == req["body"]["model"]
        assert row["tokens"]["input"] + row["tokens"]["cache_write_5m"] > 0 and row["tokens"]["output"] > 0
        assert row["cost"] > 0
    if req["body"].get("stream"):
        events = parse_sse(r.content)
        names = [n for n, _ in events]
        if codex:
            assert names[0] == "response.created" and names[-1] == "response.completed"
        else:
            assert names[0] == "message_start" and names[-1] == "message_stop"
    else:
        assert r.json()


async def test_stream_charge_is_exact_and_cache_aware(relay, pool, emu, claude_key, user):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True,
            "system": [{"type": "text", "text": "You are terse. " * 40, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hello there"}],
            "metadata": {"user_id": '{"session_id":"charge-session-1"}'}}
    cache = PromptCache()
    expected = [anthropic_usage(body, cache), anthropic_usage(body, cache)]
    assert expected[0]["cache_creation_input_tokens"] > 0 and expected[1]["cache_read_input_tokens"] > 0
    before = await _balance(relay, user["_id"])
    costs = []
    async with relay.client() as http:
        for usage in expected:
            r = await http.post("/v1/messages", json=body, headers={"x-api-key": claude_key})
            assert r.status_code == 200
            row = await _charged(relay, r.headers["x-jiuliu-request-id"])
            assert row["tokens"]["cache_write_5m"] == usage["cache_creation"]["ephemeral_5m_input_tokens"]
            assert row["tokens"]["cache_read"] == usage["cache_read_input_tokens"]
            assert row["tokens"]["input"] == usage["input_tokens"] and row["tokens"]["output"] == 12
            assert row["cost"] == sonnet_cost(usage)
            costs.append(row["cost"])
    assert await _balance(relay, user["_id"]) == before - sum(costs)


async def test_nonstream_responses_charge_includes_cached_tokens_once(relay, pool, codex_key, user):
    body = {"model": "gpt-5.4", "input": "write a haiku about relays " * 20, "prompt_cache_key": "pck-exact"}
    cache = PromptCache()
    expected = [responses_usage(body, cache), responses_usage(body, cache)]
    async with relay.client() as http:
        for usage in expected:
            r = await http.post("/v1/responses", json=body, headers={"authorization": f"Bearer {codex_key}"})
            assert r.status_code == 200
            row = await _charged(relay, r.headers["x-jiuliu-request-id"])
            cached = usage["input_tokens_details"]["cached_tokens"]
            # gpt-5.4 (the catalogue): $2.50 in, $15 out, $0.25 cached read per MTok.
            want = ((usage["input_tokens"] - cached) * 2_500_000 + usage["output_tokens"] * 15_000_000
                    + cached * 250_000 + 500_000) // 1_000_000
            assert row["tokens"]["cache_read"] == cached and row["cost"] == want
    assert expected[1]["input_tokens_details"]["cached_tokens"] > 0


async def _leave_after(relay, emu, key, deltas_seen: int, interval_ms: int, output_tokens: int) -> str:
    """Stream an answer and disconnect after ``deltas_seen`` content deltas; its request id."""
    for name in ("a1", "a2"):
        emu.state.patch(name, {"delta_interval_ms": interval_ms, "output_tokens": output_tokens})
    body = {"model": "claude-sonnet-4-5", "max_tokens": 500, "stream": True,
            "messages": [{"role": "user", "content": f"leave after {deltas_seen}"}]}
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as http:
        async with http.stream("POST", "/v1/messages", json=body, headers={"x-api-key": key}) as r:
            seen = b""
            async for chunk in r.aiter_bytes():
                seen += chunk
                if seen.count(b"content_block_delta") >= deltas_seen:
                    return r.headers["x-jiuliu-request-id"]
    raise AssertionError("the stream ended before the client left")


async def test_client_abort_bills_what_upstream_reported(relay, pool, emu, claude_key, user):
    request_id = await _leave_after(relay, emu, claude_key, 3, interval_ms=50, output_tokens=200)
    row = await _charged(relay, request_id)  # recorded once the relay notices, on its next write
    assert row is not None and row["outcome"] == "client_abort"
    assert 0 < row["tokens"]["output"] < 200 and row["tokens"]["input"] > 0
    # 200 deltas at 50 ms outlast the drain: message_start's input, the streamed output estimated.
    assert row["estimated"] is True and row["estimate_method"] == "message_start+streamed"
    assert row["cost"] == sonnet_cost({"input_tokens": row["tokens"]["input"],
                                       "output_tokens": row["tokens"]["output"]})


async def test_client_leaving_during_a_stall_stops_the_upstream(relay, pool, emu, user):
    from tests.relay.support import make_key

    key = await make_key(relay.deps.storage, user["_id"], "claude", name="stall-test")
    emu.state.patch("a1", {"fault": "stall"})
    emu.state.patch("a2", {"fault": "stall"})
    body = {"model": "claude-sonnet-4-5", "max_tokens": 16, "stream": True,
            "messages": [{"role": "user", "content": "hello?"}]}
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/messages", json=body, headers={"x-api-key": key})
    key_doc = await relay.deps.storage.db.api_keys.find_one({"name": "stall-test", "user_id": user["_id"]})
    record = await relay.usage.wait_for(lambda r: r.key_id == key_doc["_id"], timeout=10)
    assert record.outcome == "client_abort" and record.attempts == 1
    # The upstream's message_start had reported the input (and 1 output token): that is billed.
    assert record.usage.input > 0 and record.usage.output == 1


async def test_client_leaving_near_the_end_is_billed_the_whole_answer(relay, pool, emu, claude_key, user):
    """After the commit point the relay reads on (bounded) for the final usage event."""
    request_id = await _leave_after(relay, emu, claude_key, 25, interval_ms=10, output_tokens=30)
    row = await _charged(relay, request_id)
    assert row["outcome"] == "client_abort" and row["tokens"]["output"] == 30 and row["estimated"] is False
    assert row["cost"] == sonnet_cost({"input_tokens": row["tokens"]["input"], "output_tokens": 30})


async def test_failed_attempts_are_not_billed(relay, pool, emu, claude_key, user):
    emu.state.patch("a1", {"fault": "stream_error"})
    emu.state.patch("a2", {"fault": "stream_error"})
    body = {"model": "claude-sonnet-4-5", "max_tokens": 16, "stream": True,
            "messages": [{"role": "user", "content": "both fail after message_start"}]}
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=body, headers={"x-api-key": claude_key})
    assert r.status_code in (503, 529)
    row = await _charged(relay, r.headers["x-jiuliu-request-id"])
    assert row["outcome"] == "upstream_error" and row["cost"] == 0
    assert row["tokens"]["input"] == 0
    assert await relay.deps.storage.db.ledger.count_documents({"ref": row["request_id"]}) == 0
    assert row["ledger_id"] is None  # nothing to charge: no flush entry names it


async def test_one_unwritable_record_does_not_block_the_others(relay, pool, user):
    from server.billing.charges import UsageRecord
    from server.pricing.usage import Usage

    recorder = relay.deps.recorder
    rule = await relay.deps.prices.find("claude-sonnet-4-5")

    def record(request_id, user_id=user["_id"]):
        return UsageRecord(request_id=request_id, user_id=user_id, key_id="key_x", group="claude",
                           model="claude-sonnet-4-5", usage=Usage(input=10, output=1), rule=rule)

    poison = record("req_poison", user_id={"$bad": 1})  # a document MongoDB refuses to match on
    recorder.record(record("req_before"))
    recorder.record(poison)
    recorder.record(record("req_after"))
    await recorder.flush()
    found = {d["_id"] async for d in relay.deps.storage.db.usage.find({"_id": {"$in": ["req_before", "req_after"]}})}
    assert found == {"req_before", "req_after"} and recorder.pending == 0
    assert poison in recorder.failed


async def test_a_slow_database_never_sets_records_aside(relay, pool, user, monkeypatch):
    """A timeout from the database during a flush is not the records' fault: they stay queued
    (none set aside, none lost) and the next flush writes them."""
    from pymongo.errors import NetworkTimeout

    from server.billing.charges import UsageRecord
    from server.pricing.usage import Usage

    recorder = relay.deps.recorder
    rule = await relay.deps.prices.find("claude-sonnet-4-5")
    real = recorder.charges.charge_many
    failures = {"left": 1}

    async def flaky(records):
        if failures["left"]:
            failures["left"] -= 1
            raise NetworkTimeout("127.0.0.1: timed out")
        return await real(records)

    monkeypatch.setattr(recorder.charges, "charge_many", flaky)
    set_aside = len(recorder.failed)  # earlier tests of this module may have set some aside
    ids = [f"req_slowdb_{i}" for i in range(3)]
    for rid in ids:
        recorder.record(UsageRecord(request_id=rid, user_id=user["_id"], key_id="key_x", group="claude",
                                    model="claude-sonnet-4-5", usage=Usage(input=10, output=1), rule=rule))
    with pytest.raises(NetworkTimeout):
        await recorder.flush()  # the batch times out: all of it goes back to the queue
    assert recorder.pending == 3 and len(recorder.failed) == set_aside
    await recorder.flush()
    found = {d["_id"] async for d in relay.deps.storage.db.usage.find({"_id": {"$in": ids}})}
    assert found == set(ids) and recorder.pending == 0 and len(recorder.failed) == set_aside


async def test_a_usage_backlog_holds_then_refuses_new_calls(relay, pool, emu, claude_key, user, monkeypatch):
    """Past ``max_pending`` unwritten records a new call waits for the backlog to drain (and
    goes on when it does); if it does not drain in time the call is answered 503 + retry-after
    before any upstream call. Memory stays bounded and nothing answered goes unbilled."""
    import asyncio

    from server.relay import admission

    recorder = relay.deps.recorder
    monkeypatch.setattr(recorder, "max_pending", 2)
    monkeypatch.setattr(admission, "BACKLOG_WAIT", 0.3)
    gate = asyncio.Event()
    real = recorder.charges.charge_many

    async def stuck(records):
        await gate.wait()
        return await real(records)

    monkeypatch.setattr(recorder.charges, "charge_many", stuck)
    body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "backlog"}]}
    try:
        async with relay.client() as http:
            statuses = []
            # The first flush takes whatever is queued and then hangs on the gate: from then on
            # every finished call stays queued, so the backlog passes the mark within a few calls.
            for _ in range(20):
                r = await http.post("/v1/messages", json=body, headers={"x-api-key": claude_key})
                statuses.append(r.status_code)
                if r.status_code == 503:
                    break
            assert statuses[-1] == 503 and r.headers["retry-after"] == "2", statuses
            assert r.json()["error"]["type"] == "overloaded_error"
            served = emu.state.requests["a1"] + emu.state.requests["a2"]
            # A call arriving now waits; once usage is written again it is answered.
            monkeypatch.setattr(admission, "BACKLOG_WAIT", 30)
            waiting = asyncio.Event()
            real_wait = recorder.wait_for_room

            async def observed(timeout):
                waiting.set()
                return await real_wait(timeout)

            monkeypatch.setattr(recorder, "wait_for_room", observed)
            call = asyncio.ensure_future(http.post("/v1/messages", json=body, headers={"x-api-key": claude_key}))
            await asyncio.wait_for(waiting.wait(), 10)
            assert emu.state.requests["a1"] + emu.state.requests["a2"] == served and not call.done()
            gate.set()
            r = await asyncio.wait_for(call, 30)
            assert r.status_code == 200
    finally:
        gate.set()  # never leave the recorder's flush hanging for the tests after this one
        await recorder.flush()
