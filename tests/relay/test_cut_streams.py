"""A cut stream is never free (issue 12): when the upstream's final usage never arrives, the
relay bills the input ``message_start`` reported (Anthropic) or an estimate from the request
body (Responses), and the output actually streamed, at ceil(UTF-8 bytes / 4) — and marks the
row ``estimated`` with the method.

Every expected charge is computed by hand. Prices: test rules of this module's own (an operator
rule, whatever the catalogue says): ``claude-cut`` $3 in / $15 out, ``gpt-cut`` $1.25 in / $10
out per million tokens, i.e. 3, 15, 1.25 and 10 micro-units per token. The emulator's words are
"Hello", " from", " the", " Jiuliu"… (one delta each) and thinking "Let", " me", " think"…;
its sample tool arguments are ``{"city":"emulated"}``, streamed 16 characters per delta.

Cut points, for "the client left and the drain timed out" (the emulator stalls after N deltas)
and "the upstream died" (it closes after N deltas): after message_start / response.created
only, after some text, after tool-argument deltas, after thinking deltas."""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio

from server.pricing.pricing import PriceRule
from emulator import PromptCache, anthropic_usage, responses_usage
from tests.relay.support import flush_entry
from tests.support import RelayUnderTest

METRICS_TOKEN = "cut-streams-metrics"
PROMPT = "Please summarise the relay's billing rules in three short points. " * 4  # 264 bytes
TOOL = {"name": "get_weather", "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
FUNCTION = {"type": "function", "name": "get_weather", "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest_asyncio.fixture(scope="module")
async def relay(storage):
    """This module's relay reads a stream on for 0.3 s after its client left (not 5 s)."""
    server = await RelayUnderTest.start(storage, abort_drain=0.3, metrics_token=METRICS_TOKEN)
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module")
async def prices(relay, pool):
    await relay.deps.prices.upsert(PriceRule.build("claude-cut", 3_000_000, 15_000_000))
    await relay.deps.prices.upsert(PriceRule.build("gpt-cut", 1_250_000, 10_000_000))


def anthropic_body(**extra) -> dict:
    return {"model": "claude-cut", "max_tokens": 500, "stream": True,
            "messages": [{"role": "user", "content": PROMPT}], **extra}


def responses_body(**extra) -> dict:
    return {"model": "gpt-cut", "stream": True, "input": PROMPT, **extra}


def knobs(emu, names, **values) -> None:
    for name in names:
        emu.state.patch(name, values)


async def row_of(relay, request_id: str) -> dict:
    await relay.usage.wait_recorded(request_id)
    await relay.deps.recorder.flush()
    return await relay.deps.storage.db.usage.find_one({"request_id": request_id})


async def leave_after(relay, path: str, body: dict, headers: dict, marker: bytes, n: int) -> str:
    """Stream, and disconnect once ``marker`` was seen ``n`` times; the request id."""
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=10) as http:
        async with http.stream("POST", path, json=body, headers=headers) as r:
            assert r.status_code == 200
            seen = b""
            async for chunk in r.aiter_bytes():
                seen += chunk
                if seen.count(marker) >= n:
                    return r.headers["x-jiuliu-request-id"]
    raise AssertionError("the stream ended before the client left")


async def leave_before_content(relay, path: str, body: dict, headers: dict, key_id: str):
    """The client gives up while the upstream stalls before any content (nothing was sent)."""
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(path, json=body, headers=headers)
    record = await relay.usage.wait_for(lambda r: r.key_id == key_id and r.outcome == "client_abort")
    await relay.deps.recorder.flush()
    return record, await relay.deps.storage.db.usage.find_one({"request_id": record.request_id})


async def key_id_of(relay, user) -> str:
    return (await relay.deps.storage.db.api_keys.find_one({"user_id": user["_id"]}))["_id"]


def anthropic_input(body: dict) -> int:
    """What the emulator's message_start reports as input (its own deterministic rule)."""
    return anthropic_usage({**body, "stream": False}, PromptCache())["input_tokens"]


async def assert_billed_once(relay, row: dict, user_id: str, before: int) -> None:
    """One ledger entry equal to the row, the balance down by exactly it (never twice)."""
    entry = await flush_entry(relay, row)  # the one entry naming the row, carrying its rows' sum
    assert entry["named"][row["request_id"]] == row["cost"]
    assert await relay.deps.storage.db.usage.count_documents({"request_id": row["request_id"]}) == 1
    after = (await relay.deps.storage.db.users.find_one({"_id": user_id}))["balance"]
    assert after == before - row["cost"]


async def balance(relay, user) -> int:
    return (await relay.deps.storage.db.users.find_one({"_id": user["_id"]}))["balance"]


# --- Anthropic -------------------------------------------------------------------------------

async def test_anthropic_client_left_after_text_drain_timed_out(relay, pool, prices, emu, claude_key, user):
    knobs(emu, ["a1", "a2"], fault="stall", cut_after=3, output_tokens=40)
    body = anthropic_body()
    before = await balance(relay, user)
    rid = await leave_after(relay, "/v1/messages", body, {"x-api-key": claude_key}, b"text_delta", 3)
    row = await row_of(relay, rid)
    assert row["outcome"] == "client_abort" and row["estimated"] is True
    assert row["estimate_method"] == "message_start+streamed"
    # Input: message_start's figure (66 tokens: 264 bytes / 4). Output: "Hello from the" =
    # 14 bytes -> 4 tokens (message_start said 1). 66 * 3 + 4 * 15 = 198 + 60 = 258.
    assert anthropic_input(body) == 66
    assert row["tokens"]["input"] == 66 and row["tokens"]["output"] == 4
    assert row["cost"] == 258
    await assert_billed_once(relay, row, user["_id"], before)
    # A re-driven flush of the same record (a crash between writes) changes nothing.
    record = await relay.usage.wait_recorded(rid)
    await relay.deps.charges.charge_many([record])
    await relay.deps.charges.charge(record)
    await assert_billed_once(relay, row, user["_id"], before)


async def test_anthropic_upstream_died_after_text(relay, pool, prices, emu, claude_key, user):
    knobs(emu, ["a1", "a2"], fault="eof", cut_after=5, output_tokens=40)
    before = await balance(relay, user)
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=anthropic_body(), headers={"x-api-key": claude_key})
    assert r.status_code == 200 and b"event: error" in r.content and b"message_stop" not in r.content
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    assert row["outcome"] == "upstream_error" and row["estimated"] is True
    # "Hello from the Jiuliu emulator." = 5+5+4+7+10 = 31 bytes -> 8 tokens. 66 * 3 + 8 * 15 = 318.
    assert row["tokens"] == {**row["tokens"], "input": 66, "output": 8}
    assert row["cost"] == 318
    await assert_billed_once(relay, row, user["_id"], before)
    async with relay.client() as http:
        metrics = (await http.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})).text
    assert 'jiuliu_estimated_requests_total{group="claude",method="message_start+streamed"}' in metrics


async def test_anthropic_cut_after_tool_argument_deltas(relay, pool, prices, emu, claude_key, user):
    """No text at all (output_tokens 0): only the tool call's arguments were streamed."""
    knobs(emu, ["a1", "a2"], fault="stall", cut_after=1, output_tokens=0)
    body = anthropic_body(tools=[TOOL], tool_choice={"type": "any"})
    rid = await leave_after(relay, "/v1/messages", body, {"x-api-key": claude_key}, b"input_json_delta", 1)
    row = await row_of(relay, rid)
    assert row["estimated"] is True and row["outcome"] == "client_abort"
    # Arguments streamed: '{"city":"emulate' = 16 bytes -> 4 tokens; message_start said 0.
    n_in = anthropic_input(body)
    assert row["tokens"]["input"] == n_in and row["tokens"]["output"] == 4
    assert row["cost"] == (n_in * 3_000_000 + 4 * 15_000_000 + 500_000) // 1_000_000

    knobs(emu, ["a1", "a2"], fault="eof", cut_after=1, output_tokens=0)
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=body, headers={"x-api-key": claude_key})
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    assert row["outcome"] == "upstream_error" and row["estimated"] is True and row["tokens"]["output"] == 4


async def test_anthropic_cut_after_thinking_deltas(relay, pool, prices, emu, claude_key, user):
    knobs(emu, ["a1", "a2"], fault="eof", cut_after=3, output_tokens=40)
    body = anthropic_body(thinking={"type": "enabled", "budget_tokens": 1024})
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=body, headers={"x-api-key": claude_key})
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    # Thinking the client saw: "Let me think" = 3+3+6 = 12 bytes -> 3 tokens. 66*3 + 3*15 = 243.
    assert row["estimated"] is True and row["tokens"]["output"] == 3 and row["cost"] == 243


async def test_anthropic_client_left_before_content(relay, pool, prices, emu, user):
    """Stalled right after message_start: the client saw nothing and gave up. message_start's
    input (and its 1 output token) is what the vendor reported: billed, marked estimated."""
    from tests.relay.support import make_key

    key = await make_key(relay.deps.storage, user["_id"], "claude", name="cut-before-content")
    key_id = (await relay.deps.storage.db.api_keys.find_one({"name": "cut-before-content"}))["_id"]
    knobs(emu, ["a1", "a2"], fault="stall", cut_after=0)
    record, row = await leave_before_content(relay, "/v1/messages", anthropic_body(), {"x-api-key": key}, key_id)
    assert record.attempts == 1 and row["estimated"] is True
    assert row["tokens"]["input"] == 66 and row["tokens"]["output"] == 1
    assert row["cost"] == 66 * 3 + 15


async def test_anthropic_upstream_died_after_message_start_only_is_not_billed(
        relay, pool, prices, emu, claude_key, user):
    """Before the commit point a dead upstream is a failed attempt: the relay tries the next
    account; when every account fails the client gets an error and pays nothing."""
    knobs(emu, ["a1", "a2"], fault="eof", cut_after=0)
    before = await balance(relay, user)
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=anthropic_body(), headers={"x-api-key": claude_key})
    assert r.status_code in (502, 503)
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    assert row["cost"] == 0 and row["estimated"] is False and row["attempts"] == 2
    assert await balance(relay, user) == before


async def test_the_drain_catching_the_final_usage_bills_it_not_an_estimate(relay, pool, prices, emu, claude_key, user):
    """The client leaves, the upstream goes on and reports its final usage within the drain:
    that figure is billed once, and the row is not an estimate."""
    knobs(emu, ["a1", "a2"], delta_interval_ms=5, output_tokens=20)
    before = await balance(relay, user)
    rid = await leave_after(relay, "/v1/messages", anthropic_body(), {"x-api-key": claude_key}, b"text_delta", 2)
    row = await row_of(relay, rid)
    assert row["outcome"] == "client_abort" and row["estimated"] is False and row["estimate_method"] is None
    assert row["tokens"]["output"] == 20 and row["cost"] == 66 * 3 + 20 * 15
    await assert_billed_once(relay, row, user["_id"], before)


# --- Responses -------------------------------------------------------------------------------

def responses_input(body: dict) -> int:
    """What the emulator would have reported as input (the estimate must agree with it)."""
    return responses_usage({**body, "stream": False}, PromptCache())["input_tokens"]


async def test_responses_client_left_after_text_drain_timed_out(relay, pool, prices, emu, codex_key, user):
    knobs(emu, ["o1", "o2"], fault="stall", cut_after=3, output_tokens=40)
    body = responses_body()
    before = await balance(relay, user)
    rid = await leave_after(relay, "/v1/responses", body, {"authorization": f"Bearer {codex_key}"},
                            b"response.output_text.delta\n", 3)
    row = await row_of(relay, rid)
    assert row["outcome"] == "client_abort" and row["estimated"] is True
    assert row["estimate_method"] == "request_body+streamed"
    # Input estimated from the body: 264 bytes -> 66 tokens (what the emulator would report).
    # Output "Hello from the" = 14 bytes -> 4. 66 * 1.25 + 4 * 10 = 82.5 + 40 -> 123 (half up).
    assert responses_input(body) == 66
    assert row["tokens"]["input"] == 66 and row["tokens"]["output"] == 4 and row["tokens"]["cache_read"] == 0
    assert row["cost"] == 123
    await assert_billed_once(relay, row, user["_id"], before)


async def test_responses_upstream_died_after_text(relay, pool, prices, emu, codex_key, user):
    knobs(emu, ["o1", "o2"], fault="eof", cut_after=5, output_tokens=40)
    async with relay.client() as http:
        r = await http.post("/v1/responses", json=responses_body(), headers={"authorization": f"Bearer {codex_key}"})
    assert r.status_code == 200 and b"response.completed" not in r.content
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    # 31 bytes -> 8 tokens: 82.5 + 80 = 162.5 -> 163. It was billed 0 before issue 12.
    assert row["outcome"] == "upstream_error" and row["estimated"] is True
    assert row["tokens"]["input"] == 66 and row["tokens"]["output"] == 8 and row["cost"] == 163


async def test_responses_cut_after_function_call_argument_deltas(relay, pool, prices, emu, codex_key, user):
    knobs(emu, ["o1", "o2"], fault="eof", cut_after=1, output_tokens=0)
    body = responses_body(tools=[FUNCTION], tool_choice="required")
    async with relay.client() as http:
        r = await http.post("/v1/responses", json=body, headers={"authorization": f"Bearer {codex_key}"})
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    # Input: the prompt (66) plus the tool's sorted JSON, each segment rounded up on its own —
    # the emulator's own count. Output: '{"city":"emulate' = 16 bytes -> 4 tokens.
    n_in = responses_input(body)
    assert n_in > 66 and row["tokens"]["input"] == n_in and row["tokens"]["output"] == 4
    assert row["estimated"] is True
    assert row["cost"] == (n_in * 1_250_000 + 4 * 10_000_000 + 500_000) // 1_000_000

    knobs(emu, ["o1", "o2"], fault="stall", cut_after=1, output_tokens=0)
    rid = await leave_after(relay, "/v1/responses", body, {"authorization": f"Bearer {codex_key}"},
                            b"function_call_arguments.delta\n", 1)
    row = await row_of(relay, rid)
    assert row["outcome"] == "client_abort" and row["tokens"]["output"] == 4 and row["tokens"]["input"] == n_in


async def test_responses_reasoning_is_not_estimated_but_its_summary_is(relay, pool, prices, emu, codex_key, user):
    """Reasoning tokens are never streamed: a cut stream bills none of them, only the streamed
    summary text ("**Planning" = 10 bytes, " the" = 4 -> 14 bytes -> 4 tokens)."""
    knobs(emu, ["o1", "o2"], fault="eof", cut_after=2, output_tokens=40)
    body = responses_body(reasoning={"effort": "high", "summary": "auto"})
    async with relay.client() as http:
        r = await http.post("/v1/responses", json=body, headers={"authorization": f"Bearer {codex_key}"})
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    assert row["estimated"] is True and row["tokens"]["reasoning"] == 0 and row["tokens"]["output"] == 4


async def test_responses_client_left_after_created(relay, pool, prices, emu, user):
    """response.created carries no usage: the input is estimated from the body (it was billed 0)."""
    from tests.relay.support import make_key

    key = await make_key(relay.deps.storage, user["_id"], "codex", name="cut-after-created")
    key_id = (await relay.deps.storage.db.api_keys.find_one({"name": "cut-after-created"}))["_id"]
    knobs(emu, ["o1", "o2"], fault="stall", cut_after=0)
    record, row = await leave_before_content(relay, "/v1/responses", responses_body(),
                                             {"authorization": f"Bearer {key}"}, key_id)
    assert record.attempts == 1 and row["estimated"] is True and row["estimate_method"] == "request_body+streamed"
    # 66 * 1.25 = 82.5 -> 83.
    assert row["tokens"]["input"] == 66 and row["tokens"]["output"] == 0 and row["cost"] == 83


async def test_responses_upstream_died_after_created_only_is_not_billed(relay, pool, prices, emu, codex_key, user):
    knobs(emu, ["o1", "o2"], fault="eof", cut_after=0)
    async with relay.client() as http:
        r = await http.post("/v1/responses", json=responses_body(), headers={"authorization": f"Bearer {codex_key}"})
    assert r.status_code in (502, 503)
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    assert row["cost"] == 0 and row["estimated"] is False


async def test_responses_cut_turn_counts_the_sessions_cached_prefix(relay, pool, prices, emu, codex_key, user):
    """Codex sends prompt_cache_key; a cut turn's input is mostly the previous turn's prompt,
    which the vendor bills at the cached rate. Up to the input the upstream last reported for
    that key (on that account) counts as a cache read."""
    headers = {"authorization": f"Bearer {codex_key}"}
    async with relay.client() as http:
        first = await http.post("/v1/responses", json=responses_body(prompt_cache_key="pck-cut-1"), headers=headers)
        assert first.status_code == 200 and b"response.completed" in first.content
        knobs(emu, ["o1", "o2"], fault="eof", cut_after=3, output_tokens=40)
        body = responses_body(prompt_cache_key="pck-cut-1", input=PROMPT * 2)
        r = await http.post("/v1/responses", json=body, headers=headers)
    row = await row_of(relay, r.headers["x-jiuliu-request-id"])
    # Estimated total 528 bytes -> 132; the first turn reported 66 -> 66 cached, 66 uncached.
    # 66 * 1.25 + 66 * 0.125 + 4 * 10 = 82.5 + 8.25 + 40 = 130.75 -> 131.
    assert row["estimate_method"] == "request_body+cache_hint+streamed"
    assert (row["tokens"]["input"], row["tokens"]["cache_read"], row["tokens"]["output"]) == (66, 66, 4)
    assert row["cost"] == 131
    # The emulator (the "vendor") would have counted the same cached share for this turn.
    cache = PromptCache()
    responses_usage({**responses_body(prompt_cache_key="pck-cut-1"), "stream": False}, cache)
    assert responses_usage({**body, "stream": False}, cache)["input_tokens_details"]["cached_tokens"] == 66
