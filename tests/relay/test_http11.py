"""The relay's own HTTP/1.1 client against scripted servers on loopback: framing (length,
chunked, until close), keep-alive reuse, idle-close handling, flow control, broken answers."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import pytest

from server.relay.http11 import HIGH_WATER, Http11Client, Origin, UpstreamConnectionError
import server.relay.http11 as http11

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Scripted:
    """A TCP server running ``script`` per connection; records the requests' bytes."""

    def __init__(self, script: Script) -> None:
        self.script = script
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

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    def url(self, path: str = "/v1/messages") -> Origin:
        assert self.server is not None
        return Origin(f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}{path}")

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length) if length else b""
        self.requests.append(head + body)
        return head + body


def client() -> Http11Client:
    return Http11Client(connect_timeout=5, idle_timeout=5)


async def test_content_length_answers_reuse_one_connection() -> None:
    async def script(reader, writer):
        while True:
            await srv.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRequest-Id: r1\r\n"
                         b"Content-Length: 11\r\n\r\n{\"ok\":true}")
            await writer.drain()

    async with Scripted(script) as srv:
        http = client()
        for _ in range(5):
            response = await http.request("POST", srv.url(), {"x-api-key": "k"}, b'{"a":1}')
            assert response.status == 200
            assert response.headers["request-id"] == "r1"
            assert await response.read() == b'{"ok":true}'
            response.release()
        assert srv.connections == 1 and http.opened == 1
        first = srv.requests[0]
        assert first.startswith(b"POST /v1/messages HTTP/1.1\r\n")
        assert b"\r\nhost: 127.0.0.1:" in first and b"\r\ncontent-length: 7\r\n" in first
        assert first.endswith(b'\r\n\r\n{"a":1}')
        await http.close()


async def test_chunked_stream_split_anywhere_and_trailers() -> None:
    events = [b"event: a\ndata: {}\n\n", b"event: b\ndata: {\"x\":1}\n\n", b"x" * 5000]
    wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\nX-Trailer: t\r\n\r\n"

    async def script(reader, writer):
        while True:
            await srv.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(wire), 7):  # every chunk boundary falls somewhere odd
                writer.write(wire[i:i + 7])
                await writer.drain()

    async with Scripted(script) as srv:
        http = client()
        for _ in range(2):
            response = await http.request("POST", srv.url(), {}, b"{}")
            parts = []
            while chunk := await response.content.readany():
                parts.append(chunk)
            assert b"".join(parts) == b"".join(events)
            response.release()
        assert srv.connections == 1
        await http.close()


async def test_body_until_close_is_read_and_connection_not_reused() -> None:
    async def script(reader, writer):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello ")
        await writer.drain()
        writer.write(b"world")

    async with Scripted(script) as srv:
        http = client()
        for _ in range(2):
            response = await http.request("POST", srv.url(), {}, b"{}")
            assert await response.read() == b"hello world"
            response.release()
        assert srv.connections == 2
        await http.close()


async def test_connection_close_header_is_honoured() -> None:
    async def script(reader, writer):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 429 Too Many\r\nConnection: close\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await reader.read()  # wait for the client to hang up

    async with Scripted(script) as srv:
        http = client()
        for _ in range(2):
            response = await http.request("POST", srv.url(), {}, b"{}")
            assert (response.status, response.headers["retry-after"]) == (429, "3")
            assert await response.read() == b"{}"
            response.release()
        assert srv.connections == 2
        await http.close()


async def test_reset_before_any_byte_is_a_connection_error_and_not_resent() -> None:
    async def script(reader, writer):
        await srv.read_request(reader)
        writer.transport.abort()

    async with Scripted(script) as srv:
        http = client()
        with pytest.raises(UpstreamConnectionError):
            await http.request("POST", srv.url(), {}, b"{}")
        assert len(srv.requests) == 1
        await http.close()


async def test_idle_connection_closed_by_upstream_is_replaced(monkeypatch) -> None:
    """The upstream's idle timeout closed a pooled connection: the next request goes on a new one."""
    served = 0

    async def script(reader, writer):
        nonlocal served
        await srv.read_request(reader)
        served += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        # keep the connection "open" but never answer again: a dead peer from the client's view
        if served == 1:
            await reader.read(1)
            writer.transport.abort()

    async with Scripted(script) as srv:
        http = client()
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert await response.read() == b"ok"
        response.release()
        # Pretend the connection has been idle long enough to be at risk of an idle close.
        monkeypatch.setattr(http11, "STALE_AFTER", 0.0)
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert await response.read() == b"ok"
        response.release()
        assert srv.connections == 2 and served == 2
        await http.close()


async def test_garbage_and_bad_framing_fail_cleanly() -> None:
    answers = iter([b"SSH-2.0-OpenSSH\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"])

    async def script(reader, writer):
        await srv.read_request(reader)
        writer.write(next(answers))
        await writer.drain()
        writer.close()

    async with Scripted(script) as srv:
        http = client()
        for _ in range(2):
            with pytest.raises(UpstreamConnectionError):
                await http.request("POST", srv.url(), {}, b"{}")
        for _ in range(2):
            response = await http.request("POST", srv.url(), {}, b"{}")
            with pytest.raises(UpstreamConnectionError):
                await response.read()
            response.release()
        await http.close()


async def test_slow_reader_pauses_the_socket_and_gets_every_byte() -> None:
    total = 8 * HIGH_WATER

    async def script(reader, writer):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        for i in range(total // 65536):
            writer.write(bytes([i % 251]) * 65536)
            await writer.drain()

    async with Scripted(script) as srv:
        http = client()
        response = await http.request("POST", srv.url(), {}, b"{}")
        transport = response._conn.transport
        paused = asyncio.Event()
        original = transport.pause_reading

        def pause_reading() -> None:
            original()
            paused.set()

        transport.pause_reading = pause_reading
        await asyncio.wait_for(paused.wait(), 10)  # nobody reads: the client stops reading the socket
        assert not transport.is_reading()
        assert HIGH_WATER < response._buffered <= HIGH_WATER + 256 * 1024  # one socket read past the mark
        body = await response.read()
        assert len(body) == total and body[65536 * 3] == 3
        response.release()
        await http.close()


async def test_idle_timeout_between_chunks() -> None:
    release = asyncio.Event()

    async def script(reader, writer):
        await srv.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await release.wait()

    async with Scripted(script) as srv:
        http = Http11Client(connect_timeout=5, idle_timeout=0.2)
        response = await http.request("POST", srv.url(), {}, b"{}")
        assert await response.readany() == b"hello"
        with pytest.raises(TimeoutError):
            await response.readany()
        response.release()
        release.set()
        await http.close()


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError):
        http11._encode("POST", Origin("http://127.0.0.1:1/x"), {"x-api-key": "k\r\nevil: 1"}, b"{}")


def test_origin_parsing() -> None:
    o = Origin("https://api.example.com/v1/messages?beta=true")
    assert (o.scheme, o.host, o.port, o.target, o.host_header) == (
        "https", "api.example.com", 443, "/v1/messages?beta=true", "api.example.com")
    assert Origin("http://[::1]:8080/x").host_header == "[::1]:8080"
    with pytest.raises(ValueError):
        Origin("ftp://x/y")


async def test_https_upstream_with_keep_alive() -> None:
    """Upstreams are https in production: TLS with the server name checked, pooled like plain TCP."""
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                body = await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    http = Http11Client(connect_timeout=5, idle_timeout=5, ssl_context=client_ctx)
    try:
        # "localhost" resolves to this machine: the certificate names it, so verification passes.
        for i in range(3):
            response = await http.request("POST", Origin(f"https://localhost:{port}/v1/messages"), {},
                                          b'{"n":%d}' % i)
            assert response.status == 200 and await response.read() == b'{"n":%d}' % i
            response.release()
        assert connections == 1 and http.opened == 1
        # A certificate for another name is refused (no silent downgrade).
        other = ssl.create_default_context()
        ca2 = trustme.CA()
        ca2.configure_trust(other)
        with pytest.raises(ssl.SSLError):
            await Http11Client(connect_timeout=5, idle_timeout=5, ssl_context=other).request(
                "POST", Origin(f"https://localhost:{port}/v1/messages"), {}, b"{}")
    finally:
        await http.close()
        server.close()
