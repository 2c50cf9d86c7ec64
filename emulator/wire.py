"""A lean HTTP/1.1 server on ``asyncio`` protocols, for the emulator alone.

Why not Tornado: the emulator is the ceiling of the benchmark and shares the cores with the relay
under test; Tornado's RequestHandler/HTTP1Connection stack cost several times the emulator's own
work per request. This module does only what the emulator needs, with Tornado's observable
behaviour: keep-alive and pipelining, ``Content-Length`` and chunked request bodies,
``Expect: 100-continue``, HTTP/1.0 clients, fixed-length responses, chunked streams (one write per
flush), closing and TCP resets. A malformed request gets a bare 400 and the connection closes.

A handler is a coroutine run *eagerly*: it runs inside ``data_received`` until its first real wait,
so an answer with no latency knob is written without a task or an extra loop turn.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as ssl_module
import struct
from typing import Any, Callable, Coroutine, Iterable

from emulator.http1 import (
    BAD_REQUEST,
    CONTINUE,
    MAX_HEADER_SIZE,
    Headers,
    HttpError,
    Request,
    body_framing,
    chunked_body,
    head_end,
    http_date,
    parse_head,
    status_line,
)
from emulator.wirestyle import WireStyle

__all__ = ["Connection", "Dispatch", "HttpServer", "Request", "http_date"]

log = logging.getLogger("jiuliu.emulator")

READ_SIZE = 65536
Dispatch = Callable[[Request, "Connection"], "Coroutine[Any, Any, None] | None"]


def _resolve(future: asyncio.Future | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


async def _resume(coro: Coroutine[Any, Any, None], future: Any, conn: Connection) -> None:
    """Carry on a handler coroutine that ``Connection.run`` started and that now waits on ``future``
    (a Task's job, done by hand since the coroutine was started outside any task)."""
    while True:
        try:
            if future is None:  # a bare yield (asyncio.sleep(0))
                await asyncio.sleep(0)
            else:
                future._asyncio_future_blocking = False  # as a Task does when a coroutine yields it
                await future
        except BaseException:  # noqa: BLE001 - the coroutine sees the same outcome from the future
            pass
        try:
            future = coro.send(None)
        except StopIteration:
            return
        except Exception:
            log.exception("emulator bug in a request handler")
            conn.internal_error()
            return


class Connection(asyncio.BufferedProtocol):
    """One client connection. Requests are answered one at a time, in order; the handler of the
    current one writes through ``respond`` (fixed length) or ``start_chunked``/``write_chunk``/
    ``end_chunked`` (a stream), and may ``pause``, ``close`` or ``reset``.

    A BufferedProtocol reading into the server's one reusable buffer: a plain Protocol makes
    asyncio allocate 256 KiB per read, which cost more than parsing the request."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set on connection
        self.buf = bytearray()
        self.head: tuple[str, str, str, Headers, int | None, int] | None = None  # awaiting its body
        self.busy = False  # a request is being answered
        self.closed = False  # the client left, or we closed: handlers stop quietly
        self.request: Request | None = None
        self.status = 0  # of the response
        self.started = False  # response headers written
        self.complete = False  # the response is whole
        self.chunked = False
        self.keep_alive = True
        self.head_only = False
        self._tail = ""  # the Connection header the response carries, if any
        self._waiter: asyncio.Future | None = None
        self._writable: asyncio.Future | None = None
        self._paused = False

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a socket transport
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.forget(self)
        _resolve(self._waiter)
        _resolve(self._writable)

    def eof_received(self) -> bool:
        return False  # a half-closed client is a gone client (as for Tornado)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        _resolve(self._writable)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.server.read_buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.process()

    # --- requests -----------------------------------------------------------------------------

    def process(self) -> None:
        """Answer every complete request in the buffer, until one has to wait."""
        while not self.busy and not self.closed and self.buf:
            try:
                request = self._next_request()
            except HttpError as err:
                peer = self.transport.get_extra_info("peername")
                log.info("Malformed HTTP message from %s: %s", peer[0] if peer else "?", err)
                self.transport.write(BAD_REQUEST)
                self.close()
                return
            if request is None:
                return
            self._begin(request)
            try:
                coro = self.server.dispatch(request, self)
            except Exception:
                log.exception("emulator bug answering %s %s", request.method, request.path)
                self.internal_error()
                coro = None
            if coro is None or self.run(coro):
                self._end()

    def _next_request(self) -> Request | None:
        buf = self.buf
        if self.head is None:
            head = head_end(buf)
            if head is None:
                if len(buf) > MAX_HEADER_SIZE:
                    raise HttpError("Header too long")
                return None
            method, uri, version, headers = parse_head(bytes(buf[:head[0]]).lstrip(b"\r\n"))
            self.head = (method, uri, version, headers, body_framing(headers), head[1])
            if dict.get(headers, "expect") == "100-continue":
                self.transport.write(CONTINUE)
        method, uri, version, headers, length, start = self.head
        if length is None:
            found = chunked_body(buf, start)
            if found is None:
                return None
            body, end = found
        else:
            end = start + length
            if len(buf) < end:
                return None
            body = bytes(buf[start:end]) if length else b""
        self.head = None
        del buf[:end]
        return Request(method, uri, version, headers, body)

    def _begin(self, request: Request) -> None:
        self.busy = True
        self.request = request
        self.started = self.complete = self.chunked = False
        self.style: WireStyle | None = None  # wire quirks a handler asked for (emulator.wirestyle)
        self.head_only = request.method == "HEAD"
        connection = dict.get(request.headers, "connection")
        connection = connection.lower() if connection is not None else None
        if request.version == "HTTP/1.1":
            self.keep_alive = connection != "close"
            self._tail = "" if self.keep_alive else "Connection: close\r\n"
        else:
            self.keep_alive = connection == "keep-alive"
            self._tail = "Connection: Keep-Alive\r\n" if self.keep_alive else ""

    def _end(self) -> None:
        self.busy = False
        self.request = None
        if not self.closed and not (self.complete and self.keep_alive):
            self.close()

    def run(self, coro: Coroutine[Any, Any, None]) -> bool:
        """Run a handler coroutine eagerly; True if it finished without waiting."""
        try:
            future = coro.send(None)
        except StopIteration:
            return True
        except Exception:
            log.exception("emulator bug in a request handler")
            self.internal_error()
            return True
        task = asyncio.get_running_loop().create_task(_resume(coro, future, self))
        self.server.tasks.add(task)
        task.add_done_callback(self._task_done)
        return False

    def _task_done(self, task: asyncio.Task) -> None:
        self.server.tasks.discard(task)
        self._end()
        self.process()

    # --- responses ----------------------------------------------------------------------------

    def respond(self, status: int, headers: str, body: bytes) -> None:
        """The whole response: ``headers`` are ready "Name: value\\r\\n" lines; Content-Length
        and Connection are added here."""
        if self.closed:
            return
        if self.style is not None:
            body = self.style.whole(body)
            fields = f"{headers}Content-Length: {len(body)}\r\n{self._tail}"
            head = self.style.head(status_line(status), fields) + self.style.blank()
        else:
            fields = f"{headers}Content-Length: {len(body)}\r\n{self._tail}\r\n"
            head = status_line(status) + fields.encode("latin-1")
        self.transport.write(head if self.head_only else head + body)
        self.status = status
        self.started = self.complete = True

    def start_chunked(self, status: int, headers: str) -> None:
        """Headers of a response whose length is unknown: chunked for HTTP/1.1, else until close."""
        if self.closed:
            return
        self.chunked = self.request is not None and self.request.version == "HTTP/1.1"
        if not self.chunked:
            self.keep_alive = False
        tail = self._tail + ("Transfer-Encoding: chunked\r\n" if self.chunked else "")
        if self.style is not None:
            head = self.style.head(status_line(status), f"{headers}{tail}")
            self.transport.write(head + self.style.blank())
        else:
            self.transport.write(status_line(status) + f"{headers}{tail}\r\n".encode("latin-1"))
        self.status = status
        self.started = True

    def write_chunk(self, data: bytes) -> None:
        if self.closed or not data or self.head_only:
            return
        if self.style is not None:
            data = self.style.chunk(data)
            if not data:
                return
        if self.chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        self.transport.write(data)

    def end_chunked(self, data: bytes = b"") -> None:
        """The last chunk (if any) and the end of the stream, in one write."""
        if self.closed:
            return
        if self.head_only:
            data = b""
        elif self.style is not None:
            data = self.style.chunk(data, final=True)
        if self.chunked:
            self.transport.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data) if data else b"0\r\n\r\n")
        elif data:
            self.transport.write(data)
        self.complete = True

    def interim(self, data: bytes) -> None:
        """A whole 1xx answer before the real one (``103 Early Hints``)."""
        if not self.closed and not self.started:
            self.transport.write(data)

    def write_raw(self, data: bytes) -> None:
        """Bytes as they are (a deliberately broken response)."""
        if not self.closed:
            self.started = True
            self.transport.write(data)

    def internal_error(self) -> None:
        """A 500 like Tornado's, unless the response has begun (then the connection just closes)."""
        if not self.started:
            self.respond(500, f"Content-Type: text/html; charset=UTF-8\r\nDate: {http_date()}\r\n",
                         b"<html><title>500: Internal Server Error</title>"
                         b"<body>500: Internal Server Error</body></html>")

    async def drain(self) -> None:
        """Until the transport takes more data (a paused stream must not pile up)."""
        if self._paused and not self.closed:
            self._writable = asyncio.get_running_loop().create_future()
            try:
                await self._writable
            finally:
                self._writable = None

    async def pause(self, seconds: float | None) -> bool:
        """Sleep (None: until the client leaves); False if the client went away meanwhile."""
        if self.closed:
            return False
        if seconds is not None and seconds <= 0:
            return True
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        timer = loop.call_later(seconds, _resolve, self._waiter) if seconds is not None else None
        try:
            await self._waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiter = None
        return not self.closed

    def close(self) -> None:
        """Close after what was written (a FIN)."""
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()
        _resolve(self._waiter)

    def reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), dropping anything unsent."""
        if self.transport is not None and not self.closed:
            self.closed = True
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
        _resolve(self._waiter)


class HttpServer:
    """Listening sockets, the open connections and the handler tasks still running."""

    def __init__(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task] = set()
        self.read_buffer = memoryview(bytearray(READ_SIZE))  # shared: each read is copied out
        self._servers: list[asyncio.AbstractServer] = []
        self._all_gone: asyncio.Future | None = None

    async def listen(self, sockets: Iterable[socket.socket], backlog: int = 1024,
                     ssl: "ssl_module.SSLContext | None" = None) -> None:
        """Serve on ``sockets``; with ``ssl`` (a server context) as an https listener."""
        loop = asyncio.get_running_loop()
        for sock in sockets:
            self._servers.append(await loop.create_server(lambda: Connection(self), sock=sock,
                                                          backlog=backlog, ssl=ssl))

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if not self.connections:
            _resolve(self._all_gone)

    async def close(self) -> None:
        """Stop listening, drop every connection (stalled streams end here) and wait for the
        handlers to notice."""
        for server in self._servers:
            server.close()
        if self.connections:
            self._all_gone = asyncio.get_running_loop().create_future()
            for conn in list(self.connections):
                conn.closed = True
                if conn.transport is not None:
                    conn.transport.abort()
            await self._all_gone
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
