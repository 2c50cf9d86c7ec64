"""SSE per the spec through the relay (issue 13, point 5), over real HTTP: upstream streams
without ``event:`` lines, with CR or CRLF line ends, or with comments are metered, committed
and billed exactly like the usual LF stream; well-formed streams reach the client byte for
byte; an Anthropic stream without ``event:`` lines is given them, so the Anthropic SDK sees
every event."""

from __future__ import annotations

import re

import anthropic
import httpx
import pytest

from tests.relay.support import parse_sse

FORMATS = ["data-only", "cr", "crlf", "data-only-cr", "comments"]
IDS = re.compile(rb'"(msg|resp|toolu|rs|fc|msgi)_[0-9a-f]+"|EmuSig[0-9a-f]+|"(created_at|completed_at)":\d+')


def _call(protocol, claude_key, codex_key, turn):
    if protocol == "anthropic":
        body = {"model": "claude-sonnet-4-5", "max_tokens": 32, "stream": True,
                "messages": [{"role": "user", "content": f"format turn {turn}"}]}
        return "/v1/messages", body, {"x-api-key": claude_key}, ("a1", "a2")
    body = {"model": "gpt-5.4", "input": f"format turn {turn}", "stream": True}
    return "/v1/responses", body, {"authorization": f"Bearer {codex_key}"}, ("o1", "o2")


async def _row(relay, response):
    request_id = response.headers["x-jiuliu-request-id"]
    await relay.usage.wait_recorded(request_id)
    await relay.deps.recorder.flush()
    return await relay.deps.storage.db.usage.find_one({"request_id": request_id})


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_format_is_metered_and_committed_alike(relay, pool, emu, claude_key, codex_key, protocol, fmt):
    path, body, headers, names = _call(protocol, claude_key, codex_key, fmt)
    async with relay.client() as http:
        baseline = await http.post(path, json=body, headers=headers)
        for name in names:
            emu.state.patch(name, {"sse_format": fmt, "delta_interval_ms": 1})  # paced: many chunks
        odd = await http.post(path, json=body, headers=headers)
    assert baseline.status_code == odd.status_code == 200
    assert b"\r" in odd.content or fmt.startswith("data-only") or fmt == "comments"
    events = [n for n, _ in parse_sse(odd.content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")) if n or _]
    assert "error" not in [n for n, _ in parse_sse(odd.content.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))]
    assert events  # something came through
    for doc in await relay.deps.upstreams.list():
        assert doc["state"]["status"] == "healthy", doc  # a complete stream cools nobody
    first, second = await _row(relay, baseline), await _row(relay, odd)
    assert second["outcome"] == "ok" and second["status"] == 200 and second["cost"] > 0
    assert second["tokens"] == first["tokens"] and second["cost"] == first["cost"]


@pytest.mark.parametrize("fmt", ["cr", "crlf", "comments"])
async def test_well_formed_streams_pass_byte_for_byte(relay, pool, emu, claude_key, fmt):
    path, body, headers, names = _call("anthropic", claude_key, "", f"bytes {fmt}")
    for name in names:
        emu.state.patch(name, {"sse_format": fmt})
    async with relay.client() as http:
        relayed = await http.post(path, json=body, headers=headers)
    async with httpx.AsyncClient(base_url=emu.base_url) as direct:
        upstream = await direct.post(path, json=body, headers={"x-api-key": "emu-key-a1"})
    assert relayed.status_code == upstream.status_code == 200
    assert IDS.sub(b"ID", relayed.content) == IDS.sub(b"ID", upstream.content)


async def test_anthropic_data_only_streams_get_event_lines_for_the_sdk(relay, pool, emu, claude_key):
    for name in ("a1", "a2"):
        emu.state.patch(name, {"sse_format": "data-only-cr"})
    path, body, headers, _ = _call("anthropic", claude_key, "", "sdk")
    async with relay.client() as http:
        raw = (await http.post(path, json=body, headers=headers)).content
    assert raw.count(b"event: ") == raw.count(b"data: ")  # every event named
    client = anthropic.AsyncAnthropic(api_key=claude_key, base_url=relay.base_url, max_retries=0)
    try:
        async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=32,
                                          messages=[{"role": "user", "content": "sdk"}]) as stream:
            message = await stream.get_final_message()
    finally:
        await client.close()
    assert message.stop_reason == "end_turn" and message.content[0].text
    assert message.usage.output_tokens == 12 and message.usage.input_tokens > 0
