"""The emulator's own HTTP/1.1 server, on raw sockets: keep-alive and pipelining, request bodies
(Content-Length, chunked, ``Expect: 100-continue``), HTTP/1.0, chunked SSE framing with one
chunk per paced frame, the bare 400 for malformed requests, the headers Tornado used to send,
and ``stop()`` closing connections that are still open."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest

from emulator import EmulatorAccount, start_emulator
from tests.emulator.helpers import KEY_A, parse_sse

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "say hi"}]}
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\n\r\n"
TIMEOUT = 5  # a guard against hanging, never a way to wait for something


def post(body: dict, *, path: str = "/v1/messages", version: str = "HTTP/1.1", **headers: str) -> bytes:
    data = orjson.dumps(body)
    lines = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    host = "Host: emulator\r\n" if version == "HTTP/1.1" else ""
    return (f"POST {path} {version}\r\n{host}x-api-key: {KEY_A}\r\ncontent-type: application/json\r\n"
            f"{lines}Content-Length: {len(data)}\r\n\r\n").encode() + data


class Client:
    """One raw connection to the emulator, reading responses exactly as framed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, emu) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", emu.port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def head(self) -> tuple[str, list[tuple[str, str]]]:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status, *lines = raw.decode("latin-1").split("\r\n")[:-2]
        return status, [tuple(line.split(": ", 1)) for line in lines]

    async def response(self, head_only: bool = False) -> tuple[str, dict[str, str], bytes]:
        status, pairs = await self.head()
        headers = {k.lower(): v for k, v in pairs}
        return status, headers, b"" if head_only else await self.body(headers)

    async def body(self, headers: dict[str, str]) -> bytes:
        """The body after a head, by its Content-Length or its chunks."""
        headers = {k.lower(): v for k, v in headers.items()}
        if "content-length" in headers:
            return await asyncio.wait_for(self.reader.readexactly(int(headers["content-length"])), TIMEOUT)
        return b"".join(await self.chunks())

    async def chunks(self) -> list[bytes]:
        """Every chunk of a chunked body, up to the terminating empty one."""
        chunks = []
        while True:
            size = int(await asyncio.wait_for(self.reader.readuntil(b"\r\n"), TIMEOUT), 16)
            data = await asyncio.wait_for(self.reader.readexactly(size + 2), TIMEOUT)
            assert data.endswith(b"\r\n")
            if not size:
                return chunks
            chunks.append(data[:-2])

    async def rest(self) -> bytes:
        """Everything until the server closes the connection."""
        return await asyncio.wait_for(self.reader.read(), TIMEOUT)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture
async def client(emu):
    c = await Client.connect(emu)
    yield c
    await c.close()


async def test_keep_alive_serves_several_requests_on_one_connection(client, emu):
    for i in range(3):
        await client.send(post({**MSG, "max_tokens": 3 + i}))
        status, headers, body = await client.response()
        assert status == "HTTP/1.1 200 OK" and "connection" not in headers
        assert orjson.loads(body)["usage"]["output_tokens"] == 3 + i
    assert emu.state.requests["a"] == 3


async def test_pipelined_requests_are_answered_in_order(client):
    await client.send(post({**MSG, "max_tokens": 1}) + post({**MSG, "max_tokens": 2, "stream": True})
                      + post({**MSG, "max_tokens": 3}, connection="close"))
    first = orjson.loads((await client.response())[2])
    events = parse_sse((await client.response())[2].decode())
    status, headers, body = await client.response()
    assert first["usage"]["output_tokens"] == 1 and events[-1][0] == "message_stop"
    assert headers["connection"] == "close" and orjson.loads(body)["usage"]["output_tokens"] == 3
    assert await client.rest() == b""


async def test_a_request_split_across_writes_and_a_chunked_body(client, emu):
    data = post(MSG)
    for i in range(0, len(data), 7):  # headers and body arriving in small pieces
        await client.send(data[i:i + 7])
    assert (await client.response())[0] == "HTTP/1.1 200 OK"
    body = orjson.dumps({**MSG, "max_tokens": 4})
    head = f"POST /v1/messages HTTP/1.1\r\nHost: e\r\nx-api-key: {KEY_A}\r\nTransfer-Encoding: chunked\r\n"
    await client.send(head.encode() + b"\r\na\r\n%b\r\n" % body[:10])
    await client.send(b"%x\r\n%b\r\n0\r\n\r\n" % (len(body) - 10, body[10:]))
    status, _, answer = await client.response()
    assert status == "HTTP/1.1 200 OK" and orjson.loads(answer)["usage"]["output_tokens"] == 4
    assert emu.state.last_request["a"]["body"] == {**MSG, "max_tokens": 4}


async def test_expect_100_continue_is_answered_before_the_body(client):
    data = post(MSG, expect="100-continue")
    head, body = data.split(b"\r\n\r\n", 1)
    await client.send(head + b"\r\n\r\n")
    interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert interim == b"HTTP/1.1 100 (Continue)\r\n\r\n"
    await client.send(body)
    assert (await client.response())[0] == "HTTP/1.1 200 OK"


async def test_http_1_0_closes_unless_keep_alive_is_asked(client, emu):
    await client.send(b"GET /api/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, headers, _ = await client.response()
    assert status == "HTTP/1.1 200 OK" and headers["connection"] == "Keep-Alive"
    await client.send(post({**MSG, "stream": True}, version="HTTP/1.0",
                           x_emulator_ttft_ms="1", x_emulator_output_tokens="2"))
    head, body = (await client.rest()).split(b"\r\n\r\n", 1)  # the stream ends with the connection
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Transfer-Encoding" not in head
    assert b"Content-Length" not in head and parse_sse(body.decode())[-1][0] == "message_stop"


async def test_paced_streams_are_chunked_one_frame_per_chunk(client, emu):
    emu.state.patch("a", {"ttft_ms": 1, "delta_interval_ms": 1, "output_tokens": 3})
    await client.send(post({**MSG, "stream": True}))
    status, pairs = await client.head()
    headers = dict(pairs)
    assert status == "HTTP/1.1 200 OK" and headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers and headers["Cache-Control"] == "no-cache"
    chunks = [parse_sse(c.decode()) for c in await client.chunks()]
    assert [[n for n, _ in c] for c in chunks] == [
        ["message_start", "content_block_start", "ping"],  # flushed before the first delta's wait
        ["content_block_delta"], ["content_block_delta"],  # one chunk per paced delta
        ["content_block_delta", "content_block_stop", "message_delta", "message_stop"],
    ]
    await client.send(post(MSG))  # and the connection is still good for the next request
    assert (await client.response())[0] == "HTTP/1.1 200 OK"


async def test_unpaced_streams_are_one_body_with_a_length(client):
    await client.send(post({**MSG, "stream": True}))
    status, pairs = await client.head()
    events = parse_sse((await client.body(dict(pairs))).decode())
    assert [k for k, _ in pairs] == ["Content-Type", "Date", "Request-Id", "Anthropic-Organization-Id",
                                   "Cache-Control", "Content-Length"]
    assert dict(pairs)["Content-Type"] == "text/event-stream; charset=utf-8"
    assert events[-1][0] == "message_stop"


async def test_json_headers_keep_tornados_order_and_spelling(client):
    await client.send(post(MSG))
    status, pairs = await client.head()
    await client.body(dict(pairs))
    assert status == "HTTP/1.1 200 OK"
    assert [k for k, _ in pairs] == ["Content-Type", "Date", "Request-Id", "Anthropic-Organization-Id",
                                   "Content-Length"]
    assert dict(pairs)["Date"].endswith(" GMT") and dict(pairs)["Request-Id"].startswith("req_")
    await client.send(post({"model": "m", "input": "x"}, path="/v1/responses", x_emulator_fault="429"))
    status, pairs = await client.head()
    assert status == "HTTP/1.1 429 Too Many Requests"
    assert [k for k, _ in pairs][:5] == ["Content-Type", "Date", "X-Request-Id", "Openai-Organization", "Retry-After"]
    assert "X-Ratelimit-Reset-Requests" in dict(pairs) and pairs[-1][0] == "Content-Length"


async def test_head_gets_headers_only_and_unknown_methods_a_405(client):
    await client.send(b"HEAD /v1/nothing HTTP/1.1\r\nHost: e\r\n\r\n")
    status, headers, _ = await client.response(head_only=True)
    assert status == "HTTP/1.1 404 Not Found" and int(headers["content-length"]) > 0
    await client.send(b"GET /v1/messages HTTP/1.1\r\nHost: e\r\n\r\n")  # no body came after the HEAD
    status, headers, body = await client.response()
    assert status == "HTTP/1.1 405 Method Not Allowed" and b"405: Method Not Allowed" in body
    await client.send(b"BREW /api/hello HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n")
    assert (await client.response())[0] == "HTTP/1.1 405 Method Not Allowed"


MALFORMED = {
    "request-line": b"HELLO\r\n\r\n",
    "http-2": b"GET /api/hello HTTP/2.0\r\nHost: e\r\n\r\n",
    "no-host": b"GET /api/hello HTTP/1.1\r\n\r\n",
    "no-colon": b"GET /api/hello HTTP/1.1\r\nHost: e\r\nno colon\r\n\r\n",
    "bad-name": b"GET /api/hello HTTP/1.1\r\nHost: e\r\nBad Name: x\r\n\r\n",
    "folding": b"GET /api/hello HTTP/1.1\r\nHost: e\r\nX: a\r\n folded\r\n\r\n",
    "control-char": b"GET /api/hello HTTP/1.1\r\nHost: e\r\nX: a\x01b\r\n\r\n",
    "negative-length": b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nContent-Length: -1\r\n\r\n",
    "two-lengths": (b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nContent-Length: 2\r\n"
                    b"Content-Length: 3\r\n\r\n{}"),
    "length-and-chunked": (b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nContent-Length: 2\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n"),
    "gzip-encoding": b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: gzip\r\n\r\n",
    "bad-chunk-size": b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "bad-chunk-end": b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX",
}


@pytest.mark.parametrize("request_bytes", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_requests_get_a_bare_400_and_the_connection_closes(client, emu, request_bytes):
    await client.send(request_bytes)
    assert await client.rest() == BAD_REQUEST
    assert emu.state.requests == {}


async def test_an_oversized_head_is_refused(client):
    await client.send(b"GET /api/hello HTTP/1.1\r\nHost: e\r\nX: " + b"x" * 70000)
    assert await client.rest() == BAD_REQUEST


async def test_request_headers_are_recorded_case_insensitively(client, emu):
    await client.send(post(MSG, X_Custom="One", x_custom="two"))
    await client.response()
    seen = emu.state.last_request["a"]["headers"]
    assert seen["X-CUSTOM"] == "One,two" and seen.get("x-api-key") == KEY_A and "Content-Type" in seen


async def test_stop_closes_idle_and_stalled_connections():
    server = await start_emulator([EmulatorAccount("k", name="k")])
    idle = await Client.connect(server)
    stalled = await Client.connect(server)
    try:
        await idle.send(b"GET /api/hello HTTP/1.1\r\nHost: e\r\n\r\n")
        await idle.response()
        data = orjson.dumps({**MSG, "stream": True})
        await stalled.send(b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nx-api-key: k\r\n"
                           b"x-emulator-fault: stall\r\nContent-Length: %d\r\n\r\n%b" % (len(data), data))
        await stalled.head()
        assert server.state.inflight == 1
        await server.stop()
        assert server.state.inflight == 0
        assert await idle.rest() == b""
        await stalled.rest()  # the first event, then the end: the connection was closed
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.port)
    finally:
        await idle.close()
        await stalled.close()
