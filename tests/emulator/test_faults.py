"""Every fault, for both protocols, seen at the HTTP level; fail_next; per-request knobs."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import httpx
import pytest

from tests.emulator.helpers import KEY_A, anthropic_headers, openai_headers, parse_sse

MSG = {"model": "claude-opus-5-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
RESP = {"model": "gpt-5.4", "input": "hi"}
ANTHROPIC_TYPES = {"400": "invalid_request_error", "401": "authentication_error",
                   "403": "permission_error", "429": "rate_limit_error", "500": "api_error",
                   "503": "api_error", "529": "overloaded_error"}
OPENAI_TYPES = {"400": ("invalid_request_error", None), "401": ("invalid_request_error", "invalid_api_key"),
                "403": ("request_forbidden", "unsupported_country_region_territory"),
                "429": ("requests", "rate_limit_exceeded"), "500": ("server_error", None),
                "503": ("server_error", None), "529": ("server_error", "overloaded")}


def anthropic_call(fault: str | None = None, stream: bool = False, **headers: str) -> dict:
    extra = {"x-emulator-fault": fault} if fault else {}
    return {"url": "/v1/messages", "json": {**MSG, "stream": stream},
            "headers": anthropic_headers(**extra, **headers)}


def openai_call(fault: str | None = None, stream: bool = False, **headers: str) -> dict:
    extra = {"x-emulator-fault": fault} if fault else {}
    return {"url": "/v1/responses", "json": {**RESP, "stream": stream},
            "headers": openai_headers(**extra, **headers)}


@pytest.mark.parametrize("fault", sorted(ANTHROPIC_TYPES))
async def test_anthropic_status_faults(http, fault):
    resp = await http.post(**anthropic_call(fault))
    assert resp.status_code == int(fault)
    body = resp.json()
    assert body["type"] == "error" and body["error"]["type"] == ANTHROPIC_TYPES[fault]
    assert body["request_id"] == resp.headers["request-id"]


@pytest.mark.parametrize("fault", sorted(OPENAI_TYPES))
async def test_openai_status_faults(http, fault):
    resp = await http.post(**openai_call(fault, stream=True))
    assert resp.status_code == int(fault)
    error = resp.json()["error"]
    assert (error["type"], error["code"]) == OPENAI_TYPES[fault]
    assert set(error) == {"message", "type", "param", "code"}


async def test_429_carries_retry_hints(http, emu):
    emu.state.patch("a", {"fault": "429", "retry_after": 7})
    resp = await http.post(**anthropic_call())
    assert resp.status_code == 429 and resp.headers["retry-after"] == "7"
    for kind in ("requests", "tokens"):
        reset = datetime.strptime(resp.headers[f"anthropic-ratelimit-{kind}-reset"], "%Y-%m-%dT%H:%M:%S%z")
        assert 5 <= (reset - datetime.now(timezone.utc)).total_seconds() <= 8
    resp = await http.post(**openai_call())
    assert resp.status_code == 429 and resp.headers["retry-after"] == "7"
    assert resp.headers["x-ratelimit-reset-requests"] == "7s"
    assert resp.headers["x-ratelimit-remaining-requests"] == "0"


@pytest.mark.parametrize("call", [anthropic_call, openai_call])
async def test_502_is_a_gateway_page(http, call):
    resp = await http.post(**call("502"))
    assert resp.status_code == 502 and resp.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in resp.text


@pytest.mark.parametrize("call", [anthropic_call, openai_call])
@pytest.mark.parametrize("stream", [False, True])
async def test_reset_closes_before_any_byte(http, call, stream):
    with pytest.raises(httpx.TransportError):
        await http.post(**call("reset", stream=stream))
    assert (await http.post(**call())).status_code == 200  # the emulator is fine afterwards


@pytest.mark.parametrize("call,first", [(anthropic_call, "message_start"), (openai_call, "response.created")])
async def test_stall_sends_headers_and_the_first_event_then_nothing(http, emu, call, first):
    timeout = httpx.Timeout(5, read=0.3)
    async with http.stream("POST", **call("stall", stream=True), timeout=timeout) as resp:
        assert resp.status_code == 200
        received = ""
        with pytest.raises(httpx.ReadTimeout):
            async for chunk in resp.aiter_text():
                received += chunk
    assert [name for name, _ in parse_sse(received)] == [first]
    async with http.stream("POST", **call("stall"), timeout=timeout) as resp:
        assert resp.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            await resp.aread()
    await emu.state.wait_idle()  # both stalled handlers end once their clients are gone
    assert emu.state.inflight == 0


async def _partial_stream(http: httpx.AsyncClient, call: dict) -> str:
    received = ""
    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("POST", **call) as resp:
            assert resp.status_code == 200
            async for chunk in resp.aiter_text():
                received += chunk
    return received


async def test_eof_cuts_streams_and_bodies(http):
    names = [n for n, _ in parse_sse(await _partial_stream(http, anthropic_call("eof", stream=True)))]
    assert names.count("content_block_delta") == 6 and "message_stop" not in names
    names = [n for n, _ in parse_sse(await _partial_stream(http, openai_call("eof", stream=True)))]
    assert names.count("response.output_text.delta") == 6 and "response.completed" not in names
    for call in (anthropic_call("eof"), openai_call("eof")):
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(**call)


async def test_anthropic_stream_errors(http):
    resp = await http.post(**anthropic_call("stream_error", stream=True))
    events = parse_sse(resp.text)
    assert resp.status_code == 200 and [n for n, _ in events] == ["message_start", "error"]
    assert events[1][1] == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    events = parse_sse((await http.post(**anthropic_call("stream_error_late", stream=True))).text)
    names = [n for n, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"] and names[-1] == "error"
    assert names.count("content_block_delta") == 6 and "message_stop" not in names


async def test_responses_stream_errors(http):
    events = parse_sse((await http.post(**openai_call("stream_error", stream=True))).text)
    assert [n for n, _ in events] == ["response.created", "response.failed"]
    failed = events[1][1]
    assert failed["sequence_number"] == 1 and failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "server_error"
    assert failed["response"]["id"] == events[0][1]["response"]["id"]
    events = parse_sse((await http.post(**openai_call("stream_error_late", stream=True))).text)
    names = [n for n, _ in events]
    assert names[-1] == "response.failed" and names.count("response.output_text.delta") == 6
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))


async def test_stream_only_faults_spare_non_streaming_requests(http, emu):
    emu.state.patch("a", {"fault": "stream_error", "fail_next": 1})
    assert (await http.post(**anthropic_call())).status_code == 200  # like Claude Code's fallback
    assert emu.state.by_name["a"].fail_next == 1
    events = parse_sse((await http.post(**anthropic_call(stream=True))).text)
    assert events[-1][0] == "error" and emu.state.by_name["a"].fault is None


@pytest.mark.parametrize("call", [anthropic_call, openai_call])
async def test_fail_next_applies_to_n_requests_then_clears(http, emu, call):
    emu.state.patch(KEY_A, {"fault": "500", "fail_next": 2})
    statuses = [(await http.post(**call())).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    account = emu.state.by_name["a"]
    assert account.fault is None and account.fail_next == 0
    assert emu.state.requests["a"] == 3 and emu.state.faults["a"] == {"500": 2}
    assert [r.fault for r in emu.state.history] == ["500", "500", None]


async def test_a_permanent_fault_and_per_request_override(http, emu):
    emu.state.patch("a", {"fault": "529"})
    assert [(await http.post(**anthropic_call())).status_code for _ in range(2)] == [529, 529]
    assert (await http.post(**anthropic_call("none"))).status_code == 200
    assert (await http.post(**anthropic_call("401"))).status_code == 401
    assert emu.state.by_name["a"].fault == "529"
    emu.state.patch("a", {"fault": "429", "fail_next": 1})
    assert (await http.post(**anthropic_call("none"))).status_code == 200
    assert emu.state.by_name["a"].fail_next == 1  # an overriding header does not use it up


async def test_bad_knob_headers_are_400(http):
    resp = await http.post(**anthropic_call("bogus"))
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"
    resp = await http.post(**openai_call(**{"x-emulator-latency-ms": "soon"}))
    assert resp.status_code == 400 and "x-emulator-latency-ms" in resp.json()["error"]["message"]


async def test_latency_ttft_and_delta_interval(http, emu):
    started = time.perf_counter()
    resp = await http.post(**anthropic_call(**{"x-emulator-latency-ms": "120"}))
    assert resp.status_code == 200 and time.perf_counter() - started >= 0.12
    emu.state.patch("a", {"ttft_ms": 150, "delta_interval_ms": 10, "output_tokens": 6})
    async with http.stream("POST", **openai_call(stream=True)) as resp:
        stamps: list[tuple[float, str]] = []
        async for line in resp.aiter_lines():
            if line.startswith("event: "):
                stamps.append((time.perf_counter(), line[7:]))
    first_delta = next(t for t, name in stamps if name == "response.output_text.delta")
    assert first_delta - stamps[0][0] >= 0.14
    deltas = [t for t, name in stamps if name == "response.output_text.delta"]
    assert len(deltas) == 6 and deltas[-1] - deltas[0] >= 0.045
    started = time.perf_counter()
    await http.post(**anthropic_call())  # non-streaming: headers after ttft + 5 intervals
    assert time.perf_counter() - started >= 0.19
    started = time.perf_counter()
    overrides = {"x-emulator-ttft-ms": "0", "x-emulator-delta-interval-ms": "40"}
    resp = await http.post(**anthropic_call(**overrides))  # the headers win over the account's knobs
    assert 0.2 <= time.perf_counter() - started < 0.34 and resp.json()["usage"]["output_tokens"] == 6


async def test_client_disconnect_mid_stream_stops_quietly(http, emu, caplog):
    emu.state.patch("a", {"delta_interval_ms": 20, "output_tokens": 500})
    caplog.set_level(logging.WARNING)
    async with http.stream("POST", **anthropic_call(stream=True)) as resp:
        async for line in resp.aiter_lines():
            if line.startswith('data: {"type":"content_block_delta"'):
                break  # leaving unread closes the connection
    await emu.state.wait_idle()
    assert emu.state.inflight == 0  # generation stopped long before its 500 deltas
    assert not [r for r in caplog.records if r.name.startswith(("tornado", "asyncio"))]


async def test_auth_and_validation_errors(http):
    resp = await http.post("/v1/messages", json=MSG)
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "authentication_error"
    resp = await http.post("/responses", json=RESP)
    assert resp.status_code == 401 and resp.json()["error"]["message"].startswith("You didn't provide")
    for missing in ("model", "max_tokens", "messages"):
        body = {k: v for k, v in MSG.items() if k != missing}
        resp = await http.post("/v1/messages", json=body, headers=anthropic_headers())
        assert resp.status_code == 400 and resp.json()["error"]["message"] == f"{missing}: Field required"
    resp = await http.post("/v1/messages", content=b"{not json", headers=anthropic_headers())
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"
    for odd in ({"messages": [{"role": "user", "content": 5}]}, {"tools": "x"}, {"system": 3},
                {"messages": [{"role": "user", "content": [1]}]}, {"thinking": True}):
        resp = await http.post("/v1/messages", json={**MSG, **odd}, headers=anthropic_headers())
        assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error", odd
    for odd in ({"input": 5}, {"input": [{"role": "user", "content": 5}]}, {"input": ["x"]}, {"tools": [1]},
                {"reasoning": "high"}, {"max_output_tokens": 0}, {"model": 5}):
        resp = await http.post("/v1/responses", json={**RESP, **odd}, headers=openai_headers())
        assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error", odd
    resp = await http.post("/v1/nothing", headers=openai_headers())
    assert resp.status_code == 404 and "error" in resp.json()


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
async def test_cut_after_stops_an_eof_stream_after_n_deltas(http, protocol):
    call = anthropic_call if protocol == "anthropic" else openai_call
    marker = "content_block_delta" if protocol == "anthropic" else "response.output_text.delta"
    for n in (0, 3):
        text = await _partial_stream(http, call("eof", stream=True, **{"x-emulator-cut-after": str(n)}))
        names = [name for name, _ in parse_sse(text)]
        assert names.count(marker) == n and names[-1] == (marker if n else names[0])
        if n == 0:
            assert names == ["message_start" if protocol == "anthropic" else "response.created"]


async def test_billed_extras_knobs(http, emu):
    """service_tier, web_searches and speed reach the usage (Anthropic) and the response (OpenAI)."""
    emu.state.patch("a", {"service_tier": "priority", "web_searches": 2, "speed": "fast"})
    usage = (await http.post(**anthropic_call())).json()["usage"]
    assert usage["service_tier"] == "priority" and usage["speed"] == "fast"
    assert usage["server_tool_use"] == {"web_search_requests": 2}
    events = parse_sse((await http.post(**anthropic_call(stream=True))).text)
    start = next(d for n, d in events if n == "message_start")["message"]["usage"]
    delta = next(d for n, d in events if n == "message_delta")["usage"]
    assert start["server_tool_use"] == {"web_search_requests": 0} and delta["server_tool_use"]["web_search_requests"] == 2
    body = (await http.post(**openai_call())).json()
    assert body["service_tier"] == "priority"
    assert [i["type"] for i in body["output"]] == ["web_search_call", "web_search_call", "message"]
    # Per request, by header; unset knobs keep the protocols' defaults.
    emu.state.reset(knobs=True)
    body = (await http.post(**openai_call(**{"x-emulator-service-tier": "flex", "x-emulator-web-searches": "1"}))).json()
    assert body["service_tier"] == "flex" and [i["type"] for i in body["output"]][0] == "web_search_call"
    assert (await http.post(**anthropic_call())).json()["usage"]["service_tier"] == "standard"
    assert (await http.post(**openai_call())).json()["service_tier"] == "default"
    resp = await http.patch("/_emulator/accounts/a", json={"cut_after": -1})
    assert resp.status_code == 400
