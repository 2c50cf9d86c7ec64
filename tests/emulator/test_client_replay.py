"""The real requests captured from Claude Code, Codex and the SDKs replay against the emulator."""

from __future__ import annotations

import json

import orjson
import pytest

from emulator import count_input_tokens
from tests.client_fixtures import CAPTURES, FIXTURES
from tests.emulator.helpers import KEY_A, parse_sse

DROP = {"host", "content-length", "connection", "accept-encoding"}

pytestmark = pytest.mark.skipif(not CAPTURES, reason="no captured client requests")


def _replayable(capture: dict) -> tuple[dict[str, str], bytes | None]:
    headers: dict[str, str] = {}
    for name, value in capture["headers"]:
        if name.lower() in DROP:
            continue
        if name.lower() == "authorization":
            value = f"Bearer {KEY_A}"
        elif name.lower() == "x-api-key":
            value = KEY_A
        headers[name] = value
    if not {"authorization", "x-api-key"} & {name.lower() for name in headers}:
        headers["Authorization"] = f"Bearer {KEY_A}"  # one capture was taken without a key
    body = None if capture["body"] is None else orjson.dumps(capture["body"])
    return headers, body


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
async def test_captured_request_replays(http, emu, path):
    capture = json.loads(path.read_text())
    headers, body = _replayable(capture)
    query = [(k, v) for k, values in capture["query"].items() for v in values]
    # The relay forwards /messages (OpenCode without /v1) to the vendor's /v1/messages.
    path = "/v1" + capture["path"] if capture["path"].startswith("/messages") else capture["path"]
    resp = await http.request(capture["method"], path, params=query, headers=headers, content=body)
    assert resp.status_code == 200, resp.text
    if capture["method"] == "HEAD":
        assert resp.content == b""
        return
    payload = capture["body"]
    is_anthropic = path.startswith("/v1/messages")
    if capture["path"].endswith("count_tokens"):
        assert resp.json() == {"input_tokens": count_input_tokens(payload, "anthropic")}
    elif payload.get("stream"):
        events = parse_sse(resp.text)
        assert events[-1][0] == ("message_stop" if is_anthropic else "response.completed")
        if not is_anthropic:
            assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
            usage = events[-1][1]["response"]["usage"]
            assert usage["input_tokens"] == count_input_tokens(payload, "openai")
    else:
        data = resp.json()
        assert data["type" if is_anthropic else "object"] == ("message" if is_anthropic else "response")
    if is_anthropic and not capture["path"].endswith("count_tokens"):
        assert resp.headers["request-id"].startswith("req_")
    seen = emu.state.last_request["a"]
    assert seen["body"] == payload and seen["path"] == path


async def test_claude_code_turns_hit_the_prompt_cache(http):
    capture = json.loads((FIXTURES / "claude-code-2.1.332-turn-bearer.json").read_text())
    headers, body = _replayable(capture)
    usages = []
    for _ in range(2):
        resp = await http.post("/v1/messages?beta=true", headers=headers, content=body)
        start = parse_sse(resp.text)[0][1]["message"]["usage"]
        usages.append(start)
    total = count_input_tokens(capture["body"], "anthropic")
    assert usages[0]["cache_creation_input_tokens"] > 0 and usages[0]["cache_read_input_tokens"] == 0
    assert usages[1]["cache_read_input_tokens"] == usages[0]["cache_creation_input_tokens"]
    for u in usages:
        assert u["input_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"] == total
