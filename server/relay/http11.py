"""A small HTTP/1.1 client for the relay's one kind of upstream call, on ``asyncio.Protocol``.

Why not aiohttp: the relay sends one request shape (a POST with a known body) and reads a
``Content-Length`` or chunked answer, on pooled keep-alive connections. aiohttp's general
client (cookies, redirects, multipart, tracing, its payload and writer layers) cost about as much
CPU per call as the rest of the relay's own path (bench/upstream_clients.py measures both).
This client does only what the relay needs: keep-alive pools per origin, TLS, flow control in
both directions, timeouts set by the caller, and connection errors as ``OSError`` subclasses.

Not supported on purpose: redirects (never followed), proxies, compression (the relay asks for
``identity``), HTTP/2, 1xx other than ``100 Continue``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import Mapping
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 64 * 1024
HIGH_WATER = 256 * 1024  # body bytes buffered before reading from the socket pauses
STALE_AFTER = 1.0  # seconds idle after which a reused connection may have been closed under us


class UpstreamConnectionError(ConnectionError):
    """The connection failed or broke, or the upstream sent something that is not HTTP/1.1."""


class Origin:
    """Where requests go: scheme, host, port and path, parsed once per account and path."""

    __slots__ = ("scheme", "host", "port", "target", "host_header", "key")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        default = 443 if parts.scheme == "https" else 80
        self.port = parts.port or default
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = shown if self.port == default else f"{shown}:{self.port}"
        self.key = (self.scheme, self.host, self.port)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: parses the response of the request in flight."""

    def __init__(self, origin_key: tuple[str, str, int]) -> None:
        self.origin_key = origin_key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.error: Exception | None = None
        self.idle_since = 0.0
        self.used = 0
        self._buf = bytearray()
        self._response: Response | None = None
        self._state = "idle"  # idle | head | length | chunk_size | chunk_data | chunk_end | trailer | until_close | done
        self._remaining = 0
        self._can_write: asyncio.Future | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._response is None:
            # Bytes nobody asked for (or after a complete answer): this connection can't be reused.
            self._abort(UpstreamConnectionError("unexpected data from upstream"))
            return
        self._response._got_bytes = True
        self._buf += data
        try:
            self._parse()
        except UpstreamConnectionError as exc:
            self._abort(exc)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_exception(UpstreamConnectionError("connection lost while sending"))
        response = self._response
        if response is None:
            return
        if self._state == "until_close":
            self._state = "done"
            response._finish()
        elif self._state != "done":
            err = self.error or UpstreamConnectionError(
                f"connection closed by upstream{f' ({exc})' if exc else ''}")
            response._fail(err)

    def pause_writing(self) -> None:
        if self._can_write is None or self._can_write.done():
            self._can_write = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)

    # -- request/response cycle
    async def send(self, data: bytes, response: "Response") -> None:
        self._response = response
        self._state = "head"
        self._buf.clear()
        self.used += 1
        assert self.transport is not None
        self.transport.write(data)
        if self._can_write is not None and not self._can_write.done():
            await self._can_write

    def _abort(self, exc: Exception) -> None:
        self.error = exc
        if self._response is not None and self._state != "done":
            self._response._fail(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def detach(self) -> None:
        """The response is done with this connection (pooled or closed by the caller)."""
        self._response = None
        self._state = "idle"

    @property
    def reusable(self) -> bool:
        return not self.closed and self._state == "done" and not self._buf

    def _parse(self) -> None:
        buf, response = self._buf, self._response
        assert response is not None
        while True:
            state = self._state
            if state == "head":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEADER_BYTES:
                        raise UpstreamConnectionError("response headers too large")
                    return
                head = bytes(buf[:end])
                del buf[:end + 4]
                status, headers = _parse_head(head)
                if status == 100:
                    continue  # 100 Continue: the real answer follows
                self._state = self._body_state(status, headers, response)  # bad framing: no answer at all
                response._start(status, headers)
                if self._state == "done":
                    response._finish()
                    return
            elif state == "length":
                if not self._pass_body(buf, response):
                    return
                self._state = "done"
                response._finish()
                return
            elif state == "chunk_size":
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise UpstreamConnectionError("bad chunk size line")
                    return
                line = bytes(buf[:end]).split(b";", 1)[0].strip()
                del buf[:end + 2]
                try:
                    size = int(line, 16)
                except ValueError:
                    raise UpstreamConnectionError("bad chunk size") from None
                if size < 0:
                    raise UpstreamConnectionError("bad chunk size")
                self._remaining = size
                self._state = "chunk_data" if size else "trailer"
            elif state == "chunk_data":
                if not self._pass_body(buf, response):
                    return
                self._state = "chunk_end"
            elif state == "chunk_end":
                if len(buf) < 2:
                    return
                if buf[:2] != b"\r\n":
                    raise UpstreamConnectionError("bad chunk terminator")
                del buf[:2]
                self._state = "chunk_size"
            elif state == "trailer":
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > MAX_HEADER_BYTES:
                        raise UpstreamConnectionError("trailer too large")
                    return
                del buf[:end + 2]
                if end == 0:
                    self._state = "done"
                    response._finish()
                    return
            elif state == "until_close":
                if buf:
                    response._feed(bytes(buf))
                    buf.clear()
                return
            else:  # done: anything more is a protocol error for the next request
                if buf:
                    raise UpstreamConnectionError("data after the end of the response")
                return

    def _pass_body(self, buf: bytearray, response: "Response") -> bool:
        """Hand the buffered part of the current body run to the response; True once it is all in."""
        if buf:
            take = min(self._remaining, len(buf))
            response._feed(bytes(buf[:take]) if take < len(buf) else bytes(buf))
            del buf[:take]
            self._remaining -= take
        return self._remaining == 0

    def _body_state(self, status: int, headers: dict[str, str], response: "Response") -> str:
        if response.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return "done"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return "chunk_size"
        length = headers.get("content-length")
        if length is not None:
            try:
                self._remaining = int(length)
            except ValueError:
                raise UpstreamConnectionError("bad content-length") from None
            if self._remaining < 0:
                raise UpstreamConnectionError("bad content-length")
            return "length" if self._remaining else "done"
        response.keep_alive = False
        return "until_close"


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise UpstreamConnectionError("not an HTTP/1.x response")
    try:
        status = int(status_line[1])
    except ValueError:
        raise UpstreamConnectionError("bad status line") from None
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        name, sep, value = raw.partition(b":")
        if not sep:
            raise UpstreamConnectionError("bad header line")
        key = name.strip().lower().decode("latin-1")
        text = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    if status_line[0] == b"HTTP/1.0" and "keep-alive" not in headers.get("connection", "").lower():
        headers.setdefault("connection", "close")
    return status, headers


class Response:
    """Status, lower-cased headers, and the body as it arrives (``read`` / ``content.readany``)."""

    def __init__(self, client: "Http11Client", conn: _Connection, method: str) -> None:
        self._client = client
        self._conn: _Connection | None = conn
        self.method = method
        self.status = 0
        self.headers: dict[str, str] = {}
        self.keep_alive = True
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future | None = None
        self._paused = False
        self._head: asyncio.Future = asyncio.get_running_loop().create_future()
        self._got_bytes = False

    @property
    def content(self) -> "Response":
        """aiohttp's spelling: ``response.content.readany()``."""
        return self

    # -- fed by the connection
    def _start(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.headers = status, headers
        if "close" in headers.get("connection", "").lower():
            self.keep_alive = False
        if not self._head.done():
            self._head.set_result(None)

    def _feed(self, data: bytes) -> None:
        if not data:
            return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and not self._paused and self._conn is not None \
                and self._conn.transport is not None:
            self._paused = True
            self._conn.transport.pause_reading()
        self._wake()

    def _finish(self) -> None:
        self._done = True
        self._wake()

    def _fail(self, exc: Exception) -> None:
        self._error = exc
        if not self._head.done():
            self._head.set_exception(exc)
            self._head.exception()  # retrieved: a failed request reports it from wait_head
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_head(self) -> None:
        await self._head

    # -- read by the caller
    async def readany(self) -> bytes:
        """The body bytes that have arrived (waiting for some); b"" at the end."""
        while not self._chunks:
            if self._done:
                self._release_if_done()
                return b""
            if self._error is not None:
                raise self._error
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(self._client.idle_timeout, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        data = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._drain())
        self._buffered -= len(data)
        if self._paused and self._buffered <= HIGH_WATER // 4 and self._conn is not None \
                and self._conn.transport is not None:
            self._paused = False
            self._conn.transport.resume_reading()
        if self._done and not self._chunks:
            self._release_if_done()
        return data

    def _drain(self) -> list[bytes]:
        out = list(self._chunks)
        self._chunks.clear()
        return out

    async def read(self) -> bytes:
        """The whole body."""
        parts = []
        while True:
            data = await self.readany()
            if not data:
                return b"".join(parts)
            parts.append(data)

    def _release_if_done(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self.keep_alive and conn.reusable:
            conn.detach()
            self._client._put(conn)
        else:
            conn.close()

    def release(self) -> None:
        """Done with the response: a fully read one gives its connection back, else it closes."""
        if self._conn is None:
            return
        if self._done and not self._chunks:
            self._release_if_done()
        else:
            self.close()

    def close(self) -> None:
        """Drop the connection now (the body will not be read)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if not self._done and self._error is None:
            self._error = UpstreamConnectionError("response closed")
            self._wake()


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no data from upstream within the idle timeout"))


class Http11Client:
    """Keep-alive connection pools per origin; ``request`` returns once the headers are in."""

    def __init__(self, connect_timeout: float, idle_timeout: float, keepalive: float = 60.0,
                 max_idle_per_origin: int = 256, ssl_context: ssl.SSLContext | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.keepalive = keepalive
        self.max_idle_per_origin = max_idle_per_origin
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self.opened = 0  # connections made, for tests and the bench
        self._closed = False

    def _put(self, conn: _Connection) -> None:
        if self._closed:
            conn.close()
            return
        idle = self._idle.setdefault(conn.origin_key, [])
        if len(idle) >= self.max_idle_per_origin:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin.key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive:
                return conn
            conn.close()
        return None

    async def _open(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        ssl_arg: ssl.SSLContext | None = None
        if origin.scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            ssl_arg = self._ssl
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(origin.key), origin.host, origin.port, ssl=ssl_arg,
                    server_hostname=origin.host if ssl_arg else None)
        except TimeoutError:
            raise UpstreamConnectionError(f"connect to {origin.host_header} timed out") from None
        self.opened += 1
        return conn

    async def request(self, method: str, origin: Origin, headers: Mapping[str, str],
                      body: bytes | None = None) -> Response:
        """Send the request; returns with status and headers (read the body from the response).

        A pooled connection that sat idle for a while and then fails before any answer byte was
        most likely closed by the upstream's idle timeout as we reused it: the request is sent
        once more on a new connection. A connection reused at once that fails is an upstream
        failure like any other (the caller's failover decides)."""
        payload = _encode(method, origin, headers, body)
        for attempt in (0, 1):
            conn = self._take(origin) if attempt == 0 else None
            stale_risk = conn is not None and time.monotonic() - conn.idle_since >= STALE_AFTER
            if conn is None:
                conn = await self._open(origin)
            response = Response(self, conn, method)
            try:
                await conn.send(payload, response)
                await response.wait_head()
            except UpstreamConnectionError:
                conn.close()
                if stale_risk and not response._got_bytes:
                    continue
                raise
            except BaseException:
                conn.close()  # cancelled (a timeout) or worse: this connection is in an unknown state
                raise
            return response
        raise AssertionError("unreachable")

    async def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def _encode(method: str, origin: Origin, headers: Mapping[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {origin.target} HTTP/1.1", f"host: {origin.host_header}"]
    for name, value in headers.items():
        lower = name.lower()
        if lower in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"header {name!r} has a line break or colon")
        lines.append(f"{name}: {value}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head
