"""The handler machinery shared by both protocols: auth, knobs, faults, pacing and SSE output.

``ApiHandler.post`` is the one request pipeline: authenticate → parse → resolve knobs and the
fault → record → latency → HTTP-level fault → validate → ``respond`` (the protocol's job).
Streams are built by the protocol modules as a list of frames (``(is_delta, bytes)``) and
played here, where pacing (ttft, delta interval) and in-stream faults are applied.

Handlers write through the ``Connection`` of ``wire.py``; one handler instance per request.
Response headers keep the order and spelling Tornado gave them (Content-Type, Date, the request
id, the rest), so clients see the same bytes as before.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

import orjson

from emulator.accounts import EmulatorAccount, KnobError, Knobs, consume_fault, request_knobs
from emulator.faults import (
    ANTHROPIC,
    GATEWAY_502_BODY,
    STREAM_ONLY_FAULTS,
    anthropic_error_body,
    fault_status,
    openai_error_body,
    rate_limit_headers,
)
from emulator.oddities import ACCOUNT_FAULTS, account_fault, organization_header, reformat
from emulator.state import EmulatorState
from emulator.wire import Connection, Request, http_date
from emulator.wirestyle import EARLY_HINTS, WireStyle, request_wire

log = logging.getLogger("jiuliu.emulator")

Frame = tuple[bool, bytes]  # (is a content delta, SSE bytes)
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
WRITE_CHUNK = 64 * 1024  # bytes of a stream queued at most before waiting for the reader
JSON = "application/json"
HTML = "text/html; charset=UTF-8"
METHOD_NOT_ALLOWED = (b"<html><title>405: Method Not Allowed</title>"
                      b"<body>405: Method Not Allowed</body></html>")
_canonical_names: dict[str, str] = {}


def canonical(name: str) -> str:
    """A header name as Tornado spelled it on the wire (``x-request-id`` → ``X-Request-Id``)."""
    spelled = _canonical_names.get(name)
    if spelled is None:
        spelled = _canonical_names[name] = "-".join(w.capitalize() for w in name.split("-"))
    return spelled


class ApiError(Exception):
    """An error answered in the protocol's envelope."""

    def __init__(self, status: int, message: str | None = None, *, etype: str | None = None,
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or str(status))
        self.status, self.message, self.etype = status, message, etype
        self.code, self.param, self.headers = code, param, headers or {}


def sse(event: str, data: Any) -> bytes:
    """One server-sent event: ``event: NAME\\ndata: JSON\\n\\n``."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class Handler:
    """Base of every handler: the state, the request and its connection."""

    def __init__(self, state: EmulatorState, request: Request, conn: Connection) -> None:
        self.state = state
        self.request = request
        self.conn = conn

    def reply(self, status: int, content_type: str, body: bytes, extra: str = "") -> None:
        """Finish with ``body``; ``extra`` holds further "Name: value\\r\\n" header lines."""
        self.conn.respond(status, f"Content-Type: {content_type}\r\nDate: {http_date()}\r\n{extra}", body)

    def method_not_allowed(self) -> None:
        self.reply(405, HTML, METHOD_NOT_ALLOWED)


class EmulatorHandler(Handler):
    """Base of the vendor API handlers: request id, authentication, error envelopes."""

    protocol: str = ANTHROPIC

    def __init__(self, state: EmulatorState, request: Request, conn: Connection) -> None:
        super().__init__(state, request, conn)
        self.request_id = "req_" + os.urandom(12).hex()
        self.id_line = (f"Request-Id: {self.request_id}\r\n" if self.protocol == ANTHROPIC
                        else f"X-Request-Id: {self.request_id}\r\n") + organization_header(self.protocol)

    async def pause(self, seconds: float | None) -> bool:
        """Sleep (None: until the client leaves); False if the client went away meanwhile."""
        return await self.conn.pause(seconds)

    def authenticate(self) -> EmulatorAccount:
        """The account of ``x-api-key`` (preferred) or ``Authorization: Bearer``; else 401."""
        headers = self.request.headers
        key = headers.get("x-api-key")
        if not key:
            auth = headers.get("Authorization", "")
            key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        account = self.state.accounts.get(key) if key else None
        if account is None:
            self.state.unauthorized += 1
            if self.protocol == ANTHROPIC:
                raise ApiError(401, "invalid x-api-key")
            if not key:
                raise ApiError(401, "You didn't provide an API key. You need to provide your API key "
                                    "in an Authorization header using Bearer auth.", code="")
            raise ApiError(401, f"Incorrect API key provided: {key[:4]}***.")
        return account

    def error_body(self, err: ApiError) -> bytes:
        if self.protocol == ANTHROPIC:
            return anthropic_error_body(err.status, self.request_id, err.message, err.etype)
        return openai_error_body(err.status, err.message, etype=err.etype, code=err.code, param=err.param)

    def send_api_error(self, err: ApiError) -> None:
        """Finish with the error in this protocol's envelope (if nothing was sent yet)."""
        if self.conn.started:
            if not self.conn.complete:
                self.conn.end_chunked()
            return
        extra = self.id_line + "".join(f"{canonical(k)}: {v}\r\n" for k, v in err.headers.items())
        self.reply(err.status, JSON, self.error_body(err), extra)

    def send_json(self, body: bytes, status: int = 200) -> None:
        """Finish with a JSON body."""
        self.reply(status, JSON, body, self.id_line)

    def reset_connection(self) -> None:
        """Close the socket with a TCP reset before any response byte."""
        self.conn.reset()


class ApiHandler(EmulatorHandler):
    """A POST endpoint answered with a generated body or stream; faults applied here."""

    streams = True  # False: ``stream`` in the body is ignored (count_tokens)

    def validate(self, body: dict) -> None:
        """Raise ApiError(400) if the body is not a valid request."""

    async def respond(self, account: EmulatorAccount, body: dict, knobs: Knobs, stream: bool,
                      fault: str | None) -> None:
        """Answer a valid request (JSON or SSE); ``fault`` is a body-level fault or None."""
        raise NotImplementedError

    def json_body(self) -> dict:
        """The body as a JSON object, else ApiError(400)."""
        try:
            body = orjson.loads(self.request.body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"There was an error parsing the body: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return body

    async def post(self) -> None:
        self.state.begin()
        try:
            account = self.authenticate()
            body = self.json_body()
            knobs = request_knobs(account, self.request.headers)
            wire = request_wire(account.wire, self.request.headers)
            if wire:
                self.conn.style = WireStyle(wire)
                if "early-hints" in wire:
                    self.conn.interim(EARLY_HINTS)
            stream = self.streams and body.get("stream") is True
            fault = knobs.fault
            if fault in STREAM_ONLY_FAULTS and not stream:
                fault = None
            elif fault is not None and knobs.account_fault:
                consume_fault(account)
            self.state.record(account, self.protocol, self.request, body, stream, fault)
            if knobs.latency > 0 and not await self.pause(knobs.latency):
                return  # (no pause object for 0: nothing can have closed since data_received)
            if fault == "reset":
                self.reset_connection()
                return
            if fault in ACCOUNT_FAULTS:
                status, etype, code, message = account_fault(fault, self.protocol, account.name)
                self.send_api_error(ApiError(status, message, etype=etype, code=code))
                return
            fault_code = fault_status(fault) if fault else None
            if fault_code is not None:
                self.send_status_fault(fault_code, knobs)
                return
            self.validate(body)
            await self.respond(account, body, knobs, stream, fault)
        except ApiError as err:
            self.send_api_error(err)
        except KnobError as err:
            self.send_api_error(ApiError(400, str(err)))
        except Exception:
            log.exception("emulator bug answering %s %s", self.request.method, self.request.path)
            self.send_api_error(ApiError(500))
        finally:
            self.state.end()

    def send_status_fault(self, status: int, knobs: Knobs) -> None:
        if status == 502:
            self.reply(502, "text/html", GATEWAY_502_BODY, self.id_line)
            return
        headers = rate_limit_headers(self.protocol, knobs.retry_after) if status == 429 else {}
        if status == 429 and knobs.retry_after_raw is not None:
            headers = {"retry-after": knobs.retry_after_raw}
        self.send_api_error(ApiError(status, headers=headers))

    async def finish_body(self, body: bytes, fault: str | None, delay: float = 0.0) -> None:
        """Send a non-streaming body after ``delay`` (the generation time); ``stall`` and
        ``eof`` apply here."""
        if delay > 0 and not await self.pause(delay):
            return
        if fault == "stall":
            self.conn.start_chunked(200, f"Content-Type: {JSON}\r\nDate: {http_date()}\r\n{self.id_line}")
            await self.conn.drain()
            await self.pause(None)
            return
        if fault == "eof":
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    f"{'request-id' if self.protocol == ANTHROPIC else 'x-request-id'}: {self.request_id}"
                    "\r\n\r\n").encode()
            self.conn.write_raw(head + body[: len(body) // 2])
            self.conn.close()
            return
        self.send_json(body)

    async def _unpaced(self, frames: list[Frame]) -> None:
        """A long unpaced stream, written a chunk at a time as the reader takes it: an unread
        stream holds one chunk in the transport, not the whole answer (F12)."""
        pending: list[bytes] = []
        size = 0
        for _, data in frames:
            pending.append(data)
            size += len(data)
            if size > WRITE_CHUNK:
                self._flush(pending)
                size = 0
                await self.conn.drain()
                if self.conn.closed:
                    return
        self.conn.end_chunked(b"".join(pending))

    def _flush(self, pending: list[bytes]) -> None:
        """Send what is pending as one chunk (the headers first, on the first flush)."""
        conn = self.conn
        if not conn.started:
            conn.start_chunked(200, f"Content-Type: {SSE_CONTENT_TYPE}\r\nDate: {http_date()}\r\n"
                                    f"{self.id_line}Cache-Control: no-cache\r\n")
        conn.write_chunk(b"".join(pending))
        pending.clear()

    async def play(self, frames: list[Frame], knobs: Knobs, fault: str | None,
                   error_frame: Callable[[int], bytes]) -> None:
        """Send a stream with pacing; ``stall``, ``eof`` and the stream errors cut it short.
        Without pacing a short stream is one write with a Content-Length (as before); a long one
        goes in chunks of ``WRITE_CHUNK``, each after the reader took the last (back-pressure)."""
        if knobs.sse_format:
            frames = [(is_delta, reformat(data, knobs.sse_format)) for is_delta, data in frames]
            error_frame = _reformatted(error_frame, knobs.sse_format)
        if fault is None and knobs.ttft <= 0 and knobs.interval <= 0:  # the benchmark's case
            if sum(len(data) for _, data in frames) <= WRITE_CHUNK:
                self.reply(200, SSE_CONTENT_TYPE, b"".join([data for _, data in frames]),
                           self.id_line + "Cache-Control: no-cache\r\n")
                return
            await self._unpaced(frames)  # long: in chunks, each waiting for the reader (back-pressure)
            return
        stop, tail = len(frames), None
        if fault in ("stall", "stream_error"):
            stop = 1
        elif fault in ("eof", "stream_error_late"):
            stop = _after_half_the_deltas(frames)
        if fault in ("stall", "eof") and knobs.cut_after is not None:
            stop = _after_deltas(frames, knobs.cut_after)
        if fault in ("stream_error", "stream_error_late"):
            tail = error_frame
        first = True
        pending: list[bytes] = []
        pending_bytes = 0
        for i in range(stop):
            is_delta, data = frames[i]
            if is_delta:
                delay = knobs.ttft if first else knobs.interval
                first = False
                if delay > 0:
                    self._flush(pending)
                    pending_bytes = 0
                    await self.conn.drain()
                    if not await self.pause(delay):
                        return
            pending.append(data)
            pending_bytes += len(data)
            if pending_bytes > WRITE_CHUNK:  # never more than a chunk queued for a slow reader
                self._flush(pending)
                pending_bytes = 0
                await self.conn.drain()
                if self.conn.closed:
                    return
        if tail is not None:
            pending.append(tail(stop))
        if fault == "stall":
            self._flush(pending)
            await self.conn.drain()
            await self.pause(None)
        elif fault == "eof":
            self._flush(pending)
            self.conn.close()
        elif self.conn.started:
            self.conn.end_chunked(b"".join(pending))
        else:
            self.reply(200, SSE_CONTENT_TYPE, b"".join(pending), self.id_line + "Cache-Control: no-cache\r\n")


def _after_deltas(frames: list[Frame], n: int) -> int:
    """The frame index just after the ``n``-th content delta (0: after the first frame)."""
    if n <= 0:
        return 1
    deltas = [i for i, (is_delta, _) in enumerate(frames) if is_delta]
    return deltas[min(n, len(deltas)) - 1] + 1 if deltas else len(frames)


def _reformatted(error_frame: Callable[[int], bytes], fmt: str) -> Callable[[int], bytes]:
    return lambda sent: reformat(error_frame(sent), fmt)


def _after_half_the_deltas(frames: list[Frame]) -> int:
    """The frame index just after half the content deltas (at least one)."""
    deltas = [i for i, (is_delta, _) in enumerate(frames) if is_delta]
    if not deltas:
        return max(1, len(frames) // 2)
    return deltas[max(1, len(deltas) // 2) - 1] + 1
