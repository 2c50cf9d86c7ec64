"""The emulator's odd-but-valid upstreams and account errors (issue 13, point 9), over HTTP."""

from __future__ import annotations

import orjson
import pytest

from emulator.accounts import KnobError
from emulator.oddities import CREDIT_LOW, ORG_ID
from tests.emulator.helpers import anthropic_headers, openai_headers

MSG = {"model": "claude-opus-5-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}],
       "stream": True}
RESP = {"model": "gpt-5.4", "input": "hi", "stream": True}


async def _stream(http, emu, fmt, protocol="anthropic"):
    emu.state.patch("a", {"sse_format": fmt})
    if protocol == "anthropic":
        return (await http.post("/v1/messages", json=MSG, headers=anthropic_headers())).content
    return (await http.post("/v1/responses", json=RESP, headers=openai_headers())).content


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
async def test_stream_formats(http, emu, protocol):
    plain = await _stream(http, emu, None, protocol)
    assert b"\r" not in plain and plain.count(b"event: ") == plain.count(b"data: ")
    data_only = await _stream(http, emu, "data-only", protocol)
    assert b"event:" not in data_only and data_only.count(b"data: ") == plain.count(b"data: ")
    assert all(orjson.loads(block[6:])["type"] for block in data_only.split(b"\n\n") if block)
    cr = await _stream(http, emu, "cr", protocol)
    assert b"\n" not in cr and cr.count(b"\r\r") == plain.count(b"\n\n")
    crlf = await _stream(http, emu, "crlf", protocol)
    assert crlf.count(b"\r\n\r\n") == plain.count(b"\n\n") and b"\r\r" not in crlf
    commented = await _stream(http, emu, "comments", protocol)
    assert commented.count(b": keep-alive\n") == plain.count(b"\n\n")


async def test_unknown_stream_format_is_refused(emu):
    with pytest.raises(KnobError):
        emu.state.patch("a", {"sse_format": "morse"})


@pytest.mark.parametrize("fault, protocol, status, etype", [
    ("credit_low", "anthropic", 400, "invalid_request_error"),
    ("org_disabled", "anthropic", 400, "invalid_request_error"),
    ("insufficient_quota", "openai", 429, "insufficient_quota"),
    ("400_org", "anthropic", 400, "invalid_request_error")])
async def test_account_faults(http, fault, protocol, status, etype):
    if protocol == "anthropic":
        r = await http.post("/v1/messages", json=MSG, headers=anthropic_headers(**{"x-emulator-fault": fault}))
        error = r.json()["error"]
        assert r.headers["anthropic-organization-id"] == ORG_ID
    else:
        r = await http.post("/v1/responses", json=RESP, headers=openai_headers(**{"x-emulator-fault": fault}))
        error = r.json()["error"]
        assert error["code"] == "insufficient_quota" and "retry-after" not in r.headers
    assert r.status_code == status and error["type"] == etype
    if fault == "credit_low":
        assert error["message"] == CREDIT_LOW
    if fault == "400_org":
        assert ORG_ID in error["message"] and "account a" in error["message"]


async def test_retry_after_raw(http, emu):
    emu.state.patch("a", {"fault": "429", "retry_after_raw": "inf"})
    r = await http.post("/v1/messages", json=MSG, headers=anthropic_headers())
    assert r.status_code == 429 and r.headers["retry-after"] == "inf"
    assert not any(k.startswith("anthropic-ratelimit") for k in r.headers)
