"""The billing conformance table through the real relay: protocol × cache case × stream or not.

Each expected charge is computed by hand from the emulator's deterministic usage and the seed
prices (claude-sonnet-4*: $3 in, $15 out, $3.75 5-minute write, $6 1-hour write, $0.30 read;
gpt-5*: $1.25 in, $10 out, $0.125 cached read, per million tokens). Anthropic's input_tokens
exclude cache reads and writes; the Responses API's include cached_tokens: both must bill each
token exactly once."""

from __future__ import annotations

import pytest

from server.emulator import PromptCache, anthropic_usage, responses_usage


def anthropic_body(case: str, stream: bool, tag: str) -> dict:
    system = [{"type": "text", "text": f"{tag} You are a careful assistant. " * 30}]
    if case in ("write_5m", "read"):
        system[0]["cache_control"] = {"type": "ephemeral"}
    if case == "write_1h":
        system[0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    return {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": stream, "system": system,
            "messages": [{"role": "user", "content": "summarise the plan"}]}


def responses_body(case: str, stream: bool, tag: str) -> dict:
    body = {"model": "gpt-5.4", "stream": stream, "input": f"{tag} review this diff please " * 25}
    if case in ("first", "read"):
        body["prompt_cache_key"] = f"pck-{tag}"
    return body


def anthropic_charge(u: dict) -> int:
    c = u.get("cache_creation") or {}
    n = (u["input_tokens"] * 3_000_000 + u["output_tokens"] * 15_000_000
         + c.get("ephemeral_5m_input_tokens", 0) * 3_750_000 + c.get("ephemeral_1h_input_tokens", 0) * 6_000_000
         + u.get("cache_read_input_tokens", 0) * 300_000)
    return (n + 500_000) // 1_000_000


def responses_charge(u: dict) -> int:
    cached = u["input_tokens_details"]["cached_tokens"]
    n = (u["input_tokens"] - cached) * 1_250_000 + u["output_tokens"] * 10_000_000 + cached * 125_000
    return (n + 500_000) // 1_000_000


TABLE = [(p, c, s) for p, cases in (("anthropic", ("none", "write_5m", "write_1h", "read")),
                                    ("openai", ("none", "first", "read")))
         for c in cases for s in (True, False)]


@pytest.mark.parametrize("protocol, case, stream", TABLE,
                         ids=[f"{p}-{c}-{'stream' if s else 'json'}" for p, c, s in TABLE])
async def test_conformance(relay, pool, claude_key, codex_key, user, protocol, case, stream):
    tag = f"{protocol}-{case}-{stream}"
    if protocol == "anthropic":
        body, path, headers = anthropic_body(case, stream, tag), "/v1/messages", {"x-api-key": claude_key}
        usage_of, charge_of = anthropic_usage, anthropic_charge
    else:
        body, path, headers = responses_body(case, stream, tag), "/v1/responses", {"authorization": f"Bearer {codex_key}"}
        usage_of, charge_of = responses_usage, responses_charge
    calls = 2 if case == "read" else 1  # a read needs the same prompt seen once before
    cache = PromptCache()
    expected = [usage_of(body, cache) for _ in range(calls)][-1]
    if case == "read":
        assert (expected.get("cache_read_input_tokens") or expected.get("input_tokens_details", {}).get("cached_tokens"))
    async with relay.client() as http:
        for _ in range(calls):
            r = await http.post(path, json=body, headers=headers)
            assert r.status_code == 200
    request_id = r.headers["x-jiuliu-request-id"]
    await relay.deps.recorder.wait_recorded(request_id)
    await relay.deps.recorder.flush()
    row = await relay.deps.storage.usage.find_one({"request_id": request_id})
    assert row["cost"] == charge_of(expected)
    entry = await relay.deps.storage.ledger.find_one({"ref": request_id})
    assert entry["amount"] == -row["cost"] and entry["applied"]
