"""The emulator's account-bound encrypted context, remote compaction and thinking signatures,
over HTTP: what only the minting account can read, the real error envelopes, Codex's
"exactly one compaction output item"."""

from __future__ import annotations

import orjson
import pytest

from tests.emulator.helpers import KEY_A, KEY_B, anthropic_headers, openai_headers, parse_sse

REASONING = {"model": "gpt-5.4", "input": "hi", "reasoning": {"summary": "auto"},
             "include": ["reasoning.encrypted_content"], "store": False}


async def _reasoning_item(http, key: str) -> dict:
    r = await http.post("/v1/responses", json=REASONING, headers=openai_headers(key))
    assert r.status_code == 200, r.text
    item = r.json()["output"][0]
    assert item["type"] == "reasoning" and item["encrypted_content"].startswith("gAAAAA")
    return item


def _next_turn(*items: dict) -> dict:
    return {**REASONING, "input": [{"role": "user", "content": "hi"}, *items,
                                   {"role": "user", "content": "and now?"}]}


async def test_reasoning_blob_reads_only_on_its_minting_account(http):
    item = await _reasoning_item(http, KEY_A)
    ok = await http.post("/v1/responses", json=_next_turn(item), headers=openai_headers(KEY_A))
    assert ok.status_code == 200, ok.text
    bad = await http.post("/v1/responses", json=_next_turn(item), headers=openai_headers(KEY_B))
    assert bad.status_code == 400
    blob = item["encrypted_content"]
    assert bad.json() == {"error": {
        "message": f"The encrypted content {blob[:4]}...{blob[-4:]} could not be verified. "
                   "Reason: Encrypted content could not be decrypted or parsed.",
        "type": "invalid_request_error", "param": None, "code": "invalid_encrypted_content"}}
    assert list(bad.json()["error"]) == ["message", "type", "param", "code"]  # the real key order


async def test_tampered_blob_is_refused_even_by_its_minter(http):
    item = await _reasoning_item(http, KEY_A)
    blob = item["encrypted_content"]
    tampered = {**item, "encrypted_content": blob[:-6] + ("A" if blob[-6] != "A" else "B") + blob[-5:]}
    r = await http.post("/v1/responses", json=_next_turn(tampered), headers=openai_headers(KEY_A))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_encrypted_content"


@pytest.mark.parametrize("stream", [True, False])
async def test_compaction_trigger_returns_exactly_one_compaction_item(http, stream):
    item = await _reasoning_item(http, KEY_A)
    body = {**_next_turn(item), "stream": stream}
    body["input"].append({"type": "compaction_trigger"})
    r = await http.post("/v1/responses", json=body, headers=openai_headers(KEY_A))
    assert r.status_code == 200, r.text
    if stream:
        events = parse_sse(r.text)
        done = [d["item"] for n, d in events if n == "response.output_item.done"]
        assert [n for n, _ in events] == ["response.created", "response.in_progress",
                                          "response.output_item.added", "response.output_item.done",
                                          "response.completed"]
        final = events[-1][1]["response"]
    else:
        final = r.json()
        done = final["output"]
    assert len(done) == 1 and done[0]["type"] == "compaction" and done[0]["id"].startswith("cmp_")
    assert final["output"] == done and final["status"] == "completed"
    assert final["usage"]["input_tokens"] > 0 and final["usage"]["output_tokens"] > 0
    compacted = done[0]
    later = {**REASONING, "input": [compacted, {"role": "user", "content": "continue"}]}
    assert (await http.post("/v1/responses", json=later, headers=openai_headers(KEY_A))).status_code == 200
    other = await http.post("/v1/responses", json=later, headers=openai_headers(KEY_B))
    assert other.status_code == 400 and other.json()["error"]["code"] == "invalid_encrypted_content"


async def test_compaction_trigger_must_be_last(http):
    body = {**REASONING, "input": [{"type": "compaction_trigger"}, {"role": "user", "content": "hi"}]}
    r = await http.post("/v1/responses", json=body, headers=openai_headers(KEY_A))
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "The 'compaction_trigger' item must be the final input item."


async def test_thinking_signature_checked_against_its_text_not_the_account(http):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "hi"}]}
    first = await http.post("/v1/messages", json=body, headers=anthropic_headers(KEY_A))
    thinking = first.json()["content"][0]
    assert thinking["type"] == "thinking" and thinking["signature"]
    turn = {**body, "messages": [body["messages"][0], {"role": "assistant", "content": [thinking, {"type": "text", "text": "ok"}]},
                                 {"role": "user", "content": "again"}]}
    for key in (KEY_A, KEY_B):  # not account-bound (see emulator/sealed.py)
        assert (await http.post("/v1/messages", json=turn, headers=anthropic_headers(key))).status_code == 200
    changed = orjson.loads(orjson.dumps(turn))
    changed["messages"][1]["content"][0]["thinking"] += " (edited)"
    r = await http.post("/v1/messages", json=changed, headers=anthropic_headers(KEY_A))
    assert r.status_code == 400  # the latest assistant turn, edited under its own signature
    assert r.json()["error"]["message"].startswith("messages.1.content.0: `thinking` or `redacted_thinking` "
                                                   "blocks in the latest assistant message cannot be modified.")
    earlier = orjson.loads(orjson.dumps(changed))
    earlier["messages"] += [{"role": "assistant", "content": "fine"}, {"role": "user", "content": "more"}]
    r = await http.post("/v1/messages", json=earlier, headers=anthropic_headers(KEY_A))
    assert r.json()["error"] == {"type": "invalid_request_error",
                                 "message": "messages.1.content.0: Invalid `signature` in `thinking` block"}
    foreign = orjson.loads(orjson.dumps(turn))
    foreign["messages"][1]["content"][0]["signature"] = "ErUBCkYIBRgCIkB-another-provider"
    r = await http.post("/v1/messages", json=foreign, headers=anthropic_headers(KEY_A))
    assert r.json()["error"]["message"] == "messages.1.content.0: Invalid `signature` in `thinking` block"


async def test_use_tool_acts_once_per_user_message(http):
    tools = [{"type": "function", "name": "exec_command", "parameters": {
        "type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}]
    asked = {"model": "gpt-5.4", "tools": tools, "input": [{"role": "user", "content": "please use_tool"}]}
    first = (await http.post("/v1/responses", json=asked, headers=openai_headers(KEY_A))).json()
    call = next(item for item in first["output"] if item["type"] == "function_call")
    answered = {**asked, "input": asked["input"] + [
        {k: call[k] for k in ("type", "call_id", "name", "arguments")},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "done"}]}
    second = (await http.post("/v1/responses", json=answered, headers=openai_headers(KEY_A))).json()
    assert [item["type"] for item in second["output"]] == ["message"]  # the loop ends, as a model's would
