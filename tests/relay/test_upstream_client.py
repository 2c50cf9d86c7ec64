"""The upstream client (aiohttp behind ``UpstreamClient``) against scripted servers on loopback:
framing, keep-alive reuse, back-pressure, TLS, compression, 1xx, odd heads, the timeouts by
phase and the refusals that must never reach the wire."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from typing import Awaitable, Callable

import brotli
import pytest
import trustme

from server.upstream.client import UpstreamClient
from server.upstream.errors import (
    Timeouts, UpstreamConfigError, UpstreamConnectError, UpstreamConnectTimeout, UpstreamDisconnected,
    UpstreamEncodingError, UpstreamHeadTimeout, UpstreamIdleTimeout, UpstreamProtocolError,
    UpstreamTotalTimeout,
)
from server.settings import Settings

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Scripted:
    """A TCP (or TLS) server running ``script`` per connection; records the requests' bytes."""

    def __init__(self, script: Script, ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.ssl = ssl_ctx
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> "Scripted":
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.script(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=self.ssl)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    def url(self, path: str = "/v1/messages", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length) if length else b""
        self.requests.append(head + body)
        return head + body


def client(ssl_context: ssl.SSLContext | None = None, **timeouts: float | None) -> UpstreamClient:
    c = UpstreamClient(Settings(), ssl_context=ssl_context)
    if timeouts:
        c.timeouts = Timeouts(**{"connect": 5, "head": 5, "total": None, "idle": 5, **timeouts})
    return c


def answering(*answers: bytes, keep: bool = True) -> Callable[[Scripted], Script]:
    """A script answering each request on a connection with the next of ``answers``."""
    def make(srv: Scripted) -> Script:
        queue = list(answers)

        async def script(reader, writer):
            while queue:
                await srv.read_request(reader)
                writer.write(queue.pop(0))
                await writer.drain()
                if not keep:
                    return
            await reader.read()
        return script
    return make


async def serve(make: Callable[[Scripted], Script], ssl_ctx: ssl.SSLContext | None = None) -> Scripted:
    srv = Scripted(lambda r, w: make(srv)(r, w), ssl_ctx)  # type: ignore[arg-type]
    return await srv.__aenter__()


async def test_content_length_answers_reuse_one_connection() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRequest-Id: r1\r\n"
              b"Content-Length: 11\r\n\r\n{\"ok\":true}")
    srv = await serve(answering(*[answer] * 5))
    http = client()
    try:
        for _ in range(5):
            response = await http.request("POST", srv.url(), {"x-api-key": "k"}, b'{"a":1}')
            assert response.status == 200 and response.headers["request-id"] == "r1"
            assert await response.read() == b'{"ok":true}'
            response.release()
        assert srv.connections == 1  # pooled per origin
        first = srv.requests[0].lower()
        assert first.startswith(b"post /v1/messages http/1.1\r\n")
        assert b"\r\nhost: 127.0.0.1:" in first and b"\r\ncontent-length: 7\r\n" in first
        assert b"user-agent" not in first and b"cookie" not in first  # only what the relay sends
        assert first.endswith(b'\r\n\r\n{"a":1}')
    finally:
        await http.close()
        await srv.__aexit__()


async def test_chunked_stream_split_anywhere() -> None:
    events = [b"event: a\ndata: {}\n\n", b"event: b\ndata: {\"x\":1}\n\n", b"x" * 5000]
    wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\nX-Trailer: t\r\n\r\n"

    def make(srv):
        async def script(reader, writer):
            while True:
                await srv.read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for i in range(0, len(wire), 7):
                    writer.write(wire[i:i + 7])
                    await writer.drain()
        return script

    srv = await serve(make)
    http = client()
    try:
        for _ in range(2):
            response = await http.request("POST", srv.url(), {}, b"{}")
            parts = []
            while chunk := await response.content.readany():
                parts.append(chunk)
            assert b"".join(parts) == b"".join(events)
            response.release()
        assert srv.connections == 1
    finally:
        await http.close()
        await srv.__aexit__()


async def test_connection_close_is_honoured() -> None:
    answer = b"HTTP/1.1 429 Too Many\r\nConnection: close\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\n{}"
    srv = await serve(answering(answer, keep=False))
    http = client()
    try:
        for _ in range(2):
            response = await http.request("POST", srv.url(), {}, b"{}")
            assert (response.status, response.headers["retry-after"]) == (429, "3")
            assert await response.read() == b"{}"
            response.release()
        assert srv.connections == 2
    finally:
        await http.close()
        await srv.__aexit__()


async def test_close_before_any_answer_byte_is_reported_as_sent_and_not_resent() -> None:
    def make(srv):
        async def script(reader, writer):
            await srv.read_request(reader)
            writer.transport.abort()
        return script

    srv = await serve(make)
    http = client()
    try:
        with pytest.raises(UpstreamDisconnected) as info:
            await http.request("POST", srv.url(), {}, b"{}")
        assert info.value.sent is True and isinstance(info.value, ConnectionError)
        assert len(srv.requests) == 1  # a POST is never resent by the client on its own
    finally:
        await http.close()
        await srv.__aexit__()


@pytest.mark.parametrize("answer", [
    b"SSH-2.0-OpenSSH\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
    # Duplicated Content-Length, even with equal values: RFC 9112 §6.3 lets a client refuse it, and
    # aiohttp's parser does. The upstream's transport error, never a 500 (README, "Upstream HTTP client").
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
], ids=["not-http", "bad-length", "duplicate-length"])
async def test_malformed_heads_are_protocol_errors(answer: bytes) -> None:
    srv = await serve(answering(answer, keep=False))
    http = client()
    try:
        with pytest.raises(UpstreamProtocolError):
            await http.request("POST", srv.url(), {}, b"{}")
    finally:
        await http.close()
        await srv.__aexit__()


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
], ids=["bad-chunk", "cut-short"])
async def test_broken_bodies_are_protocol_errors(answer: bytes) -> None:
    srv = await serve(answering(answer, keep=False))
    http = client()
    try:
        with pytest.raises(UpstreamProtocolError):  # from the head or the body, wherever the parser sees it
            response = await http.request("POST", srv.url(), {}, b"{}")
            try:
                await response.read()
            finally:
                response.release()
    finally:
        await http.close()
        await srv.__aexit__()


async def test_interim_answers_are_skipped() -> None:
    answer = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    srv = await serve(answering(answer, answer))
    http = client()
    try:
        for _ in range(2):
            response = await http.request("POST", srv.url(), {}, b"{}")
            assert response.status == 200 and await response.read() == b"{}"
            response.release()
        assert srv.connections == 1
    finally:
        await http.close()
        await srv.__aexit__()


async def test_folded_headers_and_bare_lf_heads_are_read() -> None:
    folded = b"HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\nContent-Length: 2\r\n\r\n{}"
    bare = b"HTTP/1.1 200 OK\nRequest-Id: r9\nContent-Length: 2\n\n{}"
    srv = await serve(answering(folded, bare))
    http = client(head=5)
    try:
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert response.status == 200 and response.headers["x-long"].split() == ["one", "two"]
        assert await response.read() == b"{}"
        response.release()
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert (response.status, response.headers["request-id"]) == (200, "r9")
        assert await response.read() == b"{}"
        response.release()
    finally:
        await http.close()
        await srv.__aexit__()


BODY = b'{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}' * 4


@pytest.mark.parametrize("encoding, packed", [
    ("gzip", gzip.compress(BODY)),
    ("deflate", zlib.compress(BODY)),
    ("br", brotli.compress(BODY)),
], ids=["gzip", "deflate", "br"])
async def test_compressed_answers_are_decoded_and_the_header_dropped(encoding: str, packed: bytes) -> None:
    answer = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Encoding: %s\r\n" \
             b"Content-Length: %d\r\n\r\n%s" % (encoding.encode(), len(packed), packed)
    srv = await serve(answering(answer))
    http = client()
    try:
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert response.status == 400 and response.decoded == encoding
        assert "content-encoding" not in response.headers and "content-length" not in response.headers
        assert await response.read() == BODY
        response.release()
    finally:
        await http.close()
        await srv.__aexit__()


async def test_zstd_answers_are_decoded() -> None:
    from backports import zstd  # the library aiohttp decodes zstd with before Python 3.14

    packed = zstd.compress(BODY)
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: %d\r\n\r\n%s" % (
        len(packed), packed)
    srv = await serve(answering(answer))
    http = client()
    try:
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert response.decoded == "zstd" and await response.read() == BODY
        response.release()
    finally:
        await http.close()
        await srv.__aexit__()


async def test_gzip_stream_is_decoded_chunk_by_chunk() -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    first = packer.compress(b"event: a\ndata: {}\n\n") + packer.flush(zlib.Z_SYNC_FLUSH)
    release = asyncio.Event()

    def make(srv):
        async def script(reader, writer):
            await srv.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"%x\r\n%s\r\n" % (len(first), first))
            await writer.drain()
            await release.wait()
            rest = packer.compress(b"event: b\ndata: {}\n\n") + packer.flush()
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
            await writer.drain()
        return script

    srv = await serve(make)
    http = client()
    try:
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert await response.content.readany() == b"event: a\ndata: {}\n\n"  # before the rest is sent
        release.set()
        assert await response.read() == b"event: b\ndata: {}\n\n"
        response.release()
    finally:
        await http.close()
        await srv.__aexit__()


@pytest.mark.parametrize("encoding", ["compress", "gzip, br", "x-unknown"])
async def test_undecodable_encodings_are_refused_clearly(encoding: str) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: 2\r\n\r\n{}" % encoding.encode()
    srv = await serve(answering(answer))
    http = client()
    try:
        with pytest.raises(UpstreamEncodingError, match="cannot decode"):
            await http.request("POST", srv.url(), {}, b"{}")
    finally:
        await http.close()
        await srv.__aexit__()


async def test_corrupt_gzip_is_an_encoding_error() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"
    srv = await serve(answering(answer))
    http = client()
    try:
        response = await http.request("POST", srv.url(), {}, b"{}")
        with pytest.raises(UpstreamEncodingError):
            await response.read()
        response.release()
    finally:
        await http.close()
        await srv.__aexit__()


async def test_slow_reader_pauses_the_socket_and_gets_every_byte() -> None:
    total = 16 * 1024 * 1024  # far more than the socket buffers hold

    def make(srv):
        async def script(reader, writer):
            await srv.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
            for i in range(total // 65536):
                writer.write(bytes([i % 251]) * 65536)
                await writer.drain()
        return script

    srv = await serve(make)
    http = client()
    try:
        response = await http.request("POST", srv.url(), {}, b"{}")
        transport = response._resp.connection.transport
        paused = asyncio.Event()
        original = transport.pause_reading

        def pause_reading() -> None:
            original()
            paused.set()

        transport.pause_reading = pause_reading
        await asyncio.wait_for(paused.wait(), 20)  # nobody reads: the client stops reading the socket
        assert not transport.is_reading()
        assert response._resp.content.total_bytes <= 1024 * 1024  # bounded: a few reads past the mark
        body = await response.read()
        assert len(body) == total and body[65536 * 3] == 3
        response.release()
    finally:
        await http.close()
        await srv.__aexit__()


async def test_idle_timeout_between_chunks() -> None:
    release = asyncio.Event()

    def make(srv):
        async def script(reader, writer):
            await srv.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            await writer.drain()
            await release.wait()
        return script

    srv = await serve(make)
    http = client(head=5, idle=0.3)
    try:
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert await response.readany() == b"hello"
        with pytest.raises(UpstreamIdleTimeout) as info:
            await response.readany()
        assert info.value.phase == "idle" and isinstance(info.value, TimeoutError)
        response.release()
    finally:
        release.set()
        await http.close()
        await srv.__aexit__()


async def test_head_timeout_and_total_timeout_are_distinct() -> None:
    release = asyncio.Event()

    def make(srv):
        async def script(reader, writer):
            await srv.read_request(reader)
            if len(srv.requests) == 3:  # the third call: the head comes, the body never ends
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{")
                await writer.drain()
            await release.wait()
        return script

    srv = await serve(make)
    http = client()
    try:
        with pytest.raises(UpstreamHeadTimeout) as head:
            await http.request("POST", srv.url(), {}, b"{}", timeouts=Timeouts(connect=5, head=0.3, idle=60))
        assert head.value.phase == "head" and head.value.sent
        with pytest.raises(UpstreamHeadTimeout):  # the head bound alone, other phases as configured
            await http.request("POST", srv.url(), {}, b"{}", head_timeout=0.3)
        # Non-streaming: one bound for head and body together.
        response = await http.request("POST", srv.url(), {}, b"{}",
                                      timeouts=Timeouts(connect=5, head=None, total=0.4, idle=None))
        with pytest.raises(UpstreamTotalTimeout) as total:
            await response.read()
        assert total.value.phase == "total"
        response.release()
    finally:
        release.set()
        await http.close()
        await srv.__aexit__()


async def test_connect_timeout_covers_the_tls_handshake() -> None:
    """A listener that never completes the TLS handshake: a connect timeout, nothing sent."""
    def make(srv):
        async def script(reader, writer):
            await reader.read()
        return script

    srv = await serve(make)
    http = client(connect=0.3, head=5)
    try:
        with pytest.raises(UpstreamConnectTimeout) as info:
            await http.request("POST", srv.url(scheme="https"), {}, b"{}")
        assert info.value.phase == "connect" and not info.value.sent
    finally:
        await http.close()
        await srv.__aexit__()


async def test_refused_connection_is_a_connect_error() -> None:
    srv = await serve(answering())
    port = srv.port
    await srv.__aexit__()
    http = client()
    try:
        with pytest.raises(UpstreamConnectError) as info:
            await http.request("POST", f"http://127.0.0.1:{port}/v1/messages", {}, b"{}")
        assert not info.value.sent
    finally:
        await http.close()


@pytest.mark.parametrize("url, headers", [
    ("http://127.0.0.1:{port}/x", {"x-api-key": "k\r\nevil: 1"}),
    ("http://127.0.0.1:{port}/x", {"x-api-key": "kéy-测试"}),
    ("http://127.0.0.1:{port}/x", {"authorization": "Bearer ｓｋ-fullwidth"}),
    ("http://127.0.0.1:99999/x", {"x-api-key": "k"}),
    ("ftp://127.0.0.1:{port}/x", {"x-api-key": "k"}),
], ids=["header-injection", "non-latin1-key", "fullwidth-key", "port-out-of-range", "not-http"])
async def test_unusable_account_configuration_never_reaches_the_wire(url: str, headers: dict) -> None:
    srv = await serve(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    http = client()
    try:
        with pytest.raises(UpstreamConfigError):
            await http.request("POST", url.format(port=srv.port), headers, b"{}")
        assert srv.connections == 0
    finally:
        await http.close()
        await srv.__aexit__()


async def test_https_upstream_verified_and_pooled() -> None:
    """Upstreams are https in production: the server name is checked, connections are reused."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    def make(srv):
        async def script(reader, writer):
            while True:
                request = await srv.read_request(reader)
                body = request.split(b"\r\n\r\n", 1)[1]
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        return script

    srv = await serve(make, server_ctx)
    http = client(client_ctx)
    other_ca = trustme.CA()
    other_ctx = ssl.create_default_context()
    other_ca.configure_trust(other_ctx)
    stranger = client(other_ctx)
    try:
        for i in range(3):
            url = srv.url(host="localhost", scheme="https")
            response = await http.request("POST", url, {}, b'{"n":%d}' % i)
            assert response.status == 200 and await response.read() == b'{"n":%d}' % i
            response.release()
        assert srv.connections == 1
        # A certificate the client's CAs did not sign is refused (no silent downgrade).
        with pytest.raises(UpstreamConnectError, match="TLS"):
            await stranger.request("POST", srv.url(host="localhost", scheme="https"), {}, b"{}")
    finally:
        await http.close()
        await stranger.close()
        await srv.__aexit__()


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h"])
async def test_a_proxy_that_accepts_and_never_answers_is_a_connect_timeout(scheme: str) -> None:
    """The tunnel's handshake (CONNECT or SOCKS) is part of connecting: bounded by the connect
    timeout, nothing sent to the upstream, the proxy named (without its password)."""
    def make(srv):
        async def script(reader, writer):
            await reader.read()
        return script

    srv = await serve(make)
    http = client(connect=0.3, head=5)
    try:
        with pytest.raises(UpstreamConnectTimeout) as info:
            await http.request("POST", "https://localhost:9/v1/messages", {}, b"{}",
                               proxy=f"{scheme}://ops:pw123@127.0.0.1:{srv.port}")
        assert not info.value.sent and "ops:***@" in str(info.value) and "pw123" not in str(info.value)
    finally:
        await http.close()
        await srv.__aexit__()


async def test_a_large_body_is_sent_whole_without_a_warning() -> None:
    """Claude Code's long conversations exceed aiohttp's 1 MiB "large raw bytes" mark; they go
    out as one Content-Length body (and the warnings-as-errors test run would fail on a warning)."""
    body = b'{"pad":"' + b"x" * (3 * 1024 * 1024) + b'"}'
    srv = await serve(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
    http = client()
    try:
        response = await http.request("POST", srv.url(), {}, body)
        assert response.status == 200 and await response.read() == b"{}"
        response.release()
        head, sent = srv.requests[0].split(b"\r\n\r\n", 1)
        assert sent == body and b"content-length: %d" % len(body) in head.lower()
    finally:
        await http.close()
        await srv.__aexit__()
