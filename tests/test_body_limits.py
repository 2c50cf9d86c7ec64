"""F3: body limits per route, enforced before the body is buffered, and a body read timeout."""

from __future__ import annotations

import asyncio
import json

import pytest_asyncio

from tests.support import RelayUnderTest


@pytest_asyncio.fixture(scope="module")
async def relay(storage):
    server = await RelayUnderTest.start(storage, body_read_timeout=1.0)
    yield server
    await server.stop()


async def _raw(relay, head: bytes, body: bytes = b"", read_timeout: float = 10.0) -> bytes:
    """Send ``head`` (+ ``body``) on a fresh connection; everything the server sent until it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(-1), read_timeout)
    finally:
        writer.close()


async def test_login_refuses_a_declared_30_mib_body_without_reading_it(relay):
    head = (b"POST /api/user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 31457280\r\n\r\n")
    # Nothing of the body is sent: the answer must come from the headers alone, then a close.
    answer = await _raw(relay, head)
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["type"] == "request_too_large" and "65536" in body["error"]["message"]


async def test_dashboard_limit_is_64_kib_even_for_chunked_bodies(relay):
    head = (b"POST /api/user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 16384
    body = b"".join(b"%x\r\n%b\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"  # 80 KiB
    answer = await _raw(relay, head, body)
    assert answer.startswith(b"HTTP/1.1 400")  # cut while arriving: never reaches the login check


async def test_relay_routes_keep_the_large_limit(relay):
    async with relay.client() as http:
        big = {"model": "m", "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}
        for path in ("/v1/messages", "/messages", "/v1/responses", "/responses", "/messages/count_tokens"):
            r = await http.post(path, json=big, headers={"x-api-key": "sk-unknown"})
            assert r.status_code == 401, path  # read in full and refused for the key, not for its size
        small = await http.post("/api/user/login", content=b"{" + b" " * 70_000 + b"}",
                                headers={"content-type": "application/json"})
        assert small.status_code == 413 and small.json()["error"]["type"] == "request_too_large"
    head = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % (relay.settings.max_body_bytes + 1))
    answer = await _raw(relay, head)
    assert answer.startswith(b"HTTP/1.1 413")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["type"] == "error"  # Anthropic's envelope


async def test_a_body_that_stops_arriving_is_dropped_after_the_read_timeout(relay):
    head = (b"POST /api/user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n")
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await _raw(relay, head, b'{"email": "', read_timeout=8.0)
    assert answer == b""  # closed without an answer
    assert loop.time() - started < 5.0
