"""Anthropic thinking blocks through the relay: passed byte for byte, and the one-time repair of
an upstream "Invalid `signature` in `thinking` block" (earlier turns' thinking dropped, the
tool loop's kept; a clear error when the kept one is the invalid one). Real HTTP, emulator
accounts that check every signature against its text."""

from __future__ import annotations

import orjson

from tests.relay.support import parse_sse

THINK = {"type": "enabled", "budget_tokens": 1024}
TOOL = {"name": "get_weather", "description": "weather", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _headers(key: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}


async def _row(relay, r):
    return await relay.usage.wait_recorded(r.headers["x-jiuliu-request-id"])


async def _turn(http, key, messages, **extra):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 200, "thinking": THINK, "messages": messages, **extra}
    return await http.post("/v1/messages", content=orjson.dumps(body), headers=_headers(key))


async def _tool_loop(http, key) -> list[dict]:
    """A conversation whose last assistant turn (thinking + tool_use) awaits its tool result."""
    first = await _turn(http, key, [{"role": "user", "content": "hi"}])
    assert first.status_code == 200, first.text
    earlier = first.json()["content"]
    asked = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": earlier},
             {"role": "user", "content": "please use_tool"}]
    second = await _turn(http, key, asked, tools=[TOOL])
    content = second.json()["content"]
    assert [b["type"] for b in content][0] == "thinking" and content[-1]["type"] == "tool_use"
    return asked + [{"role": "assistant", "content": content},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": content[-1]["id"],
                                                  "content": "sunny"}]}]


async def test_thinking_blocks_pass_byte_for_byte(relay, pool, emu, claude_key):
    async with relay.client() as http:
        first = await _turn(http, claude_key, [{"role": "user", "content": "hi"}])
        block = first.json()["content"][0]
        # The client's own spelling: an escaped first letter and odd spacing, same JSON value.
        text = orjson.dumps(block["thinking"]).decode()
        spelled = ('{ "type" :"thinking",  "thinking": "\\u00' + f"{ord(text[1]):x}" + text[2:]
                   + ', "signature":"' + block["signature"] + '" }').encode()
        raw = (b'{"model":"claude-sonnet-4-5","max_tokens":200,"thinking":{"type":"enabled","budget_tokens":1024},'
               b'"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[' + spelled
               + b',{"type":"text","text":"ok"}]},{"role":"user","content":"again"}]}')
        r = await http.post("/v1/messages", content=raw, headers=_headers(claude_key))
        assert r.status_code == 200, r.text
        row = await _row(relay, r)
    assert spelled in emu.state.last_request[row.account_name]["raw"]
    assert row.repairs == []


async def test_invalid_earlier_signature_is_repaired_once_on_the_same_account(relay, pool, emu, claude_key):
    async with relay.client() as http:
        messages = await _tool_loop(http, claude_key)
        # An earlier turn's block signed elsewhere (another account's proxy, another provider).
        messages[1]["content"][0] = {**messages[1]["content"][0], "signature": "Eqw3CkYIBxgCKkDforeign"}
        body = {"model": "claude-sonnet-4-5", "max_tokens": 200, "thinking": THINK, "tools": [TOOL],
                "messages": messages, "stream": True}
        before = dict(emu.state.requests)
        r = await http.post("/v1/messages", content=orjson.dumps(body), headers=_headers(claude_key))
        assert r.status_code == 200 and "message_stop" in [n for n, _ in parse_sse(r.content)]
        row = await _row(relay, r)
    served = row.account_name
    assert row.attempts == 2 and emu.state.requests[served] - before.get(served, 0) == 2  # same account
    assert row.repairs == [f"thinking_signature: {served} refused a signature; retried once without "
                           "1 thinking block(s) of earlier turns"]
    sent = emu.state.last_request[served]["body"]["messages"]
    assert [b["type"] for b in sent[1]["content"]] == ["text"]
    assert sent[3]["content"] == messages[3]["content"]  # the tool loop keeps its thinking
    states = {doc["name"]: doc["state"]["status"] for doc in await relay.deps.upstreams.list()}
    assert states[served] == "healthy"


async def test_invalid_signature_of_the_tool_loop_turn_is_a_clear_error(relay, pool, emu, claude_key):
    async with relay.client() as http:
        messages = await _tool_loop(http, claude_key)
        # The tool loop's own block signed elsewhere: dropping it would break the tool loop.
        messages[3]["content"][0] = {**messages[3]["content"][0], "signature": "Eqw3CkYIBxgCKkDforeign"}
        before = sum(emu.state.requests.values())
        r = await _turn(http, claude_key, messages, tools=[TOOL])
        assert r.status_code == 400 and r.headers.get("x-should-retry") == "false"
        body = r.json()
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
        assert "thinking" in body["error"]["message"] and "messages.3" not in body["error"]["message"]
        assert sum(emu.state.requests.values()) == before + 1  # no repair could help: not retried
        assert (await _row(relay, r)).outcome == "error"


async def test_modified_latest_block_is_the_upstreams_own_clear_error(relay, pool, emu, claude_key):
    """Changed text under a genuine signature in the latest turn is the client's edit: the
    upstream's words reach the client unchanged and nothing is retried."""
    async with relay.client() as http:
        messages = await _tool_loop(http, claude_key)
        messages[3]["content"][0] = {**messages[3]["content"][0], "thinking": "edited by someone"}
        before = sum(emu.state.requests.values())
        r = await _turn(http, claude_key, messages, tools=[TOOL])
        assert r.status_code == 400 and "cannot be modified" in r.json()["error"]["message"]
        assert sum(emu.state.requests.values()) == before + 1 and (await _row(relay, r)).repairs == []
