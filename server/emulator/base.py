"""The handler machinery shared by both protocols: auth, knobs, faults, pacing and SSE output.

``ApiHandler.post`` is the one request pipeline: authenticate → parse → resolve knobs and the
fault → record → latency → HTTP-level fault → validate → ``respond`` (the protocol's job).
Streams are built by the protocol modules as a list of frames (``(is_delta, bytes)``) and
played here, where pacing (ttft, delta interval) and in-stream faults are applied.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from typing import Any, Callable

import orjson
import tornado.web
from tornado.iostream import StreamClosedError

from server.emulator.accounts import EmulatorAccount, Knobs, KnobError, consume_fault, request_knobs
from server.emulator.faults import (
    ANTHROPIC, GATEWAY_502_BODY, STREAM_ONLY_FAULTS, anthropic_error_body, fault_status,
    openai_error_body, rate_limit_headers,
)
from server.emulator.state import EmulatorState

log = logging.getLogger("jiuliu.emulator")

Frame = tuple[bool, bytes]  # (is a content delta, SSE bytes)
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


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


class EmulatorHandler(tornado.web.RequestHandler):
    """Base of every emulator handler: state access, disconnect tracking, error envelopes."""

    protocol: str = ANTHROPIC

    def initialize(self, state: EmulatorState) -> None:
        self.state = state
        self._closed = False
        self._waiter: asyncio.Future | None = None

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    def compute_etag(self) -> None:
        return None  # no body hashing on the hot path

    def prepare(self) -> None:
        self.request_id = "req_" + os.urandom(12).hex()
        self.set_header("request-id" if self.protocol == ANTHROPIC else "x-request-id", self.request_id)

    def on_connection_close(self) -> None:
        self._closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def pause(self, seconds: float | None) -> bool:
        """Sleep (None: until the client leaves); False if the client went away meanwhile."""
        if self._closed:
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
        return not self._closed

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
        if self._headers_written:
            if not self._finished:
                self.finish()
            return
        self.set_status(err.status)
        for name, value in err.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        self.finish(self.error_body(err))

    def send_json(self, body: bytes, status: int = 200) -> None:
        """Finish with a JSON body."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(body)

    def reset_connection(self) -> None:
        """Close the socket with a TCP reset before any response byte."""
        stream = self.detach()
        if stream.socket is not None:
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        stream.close()


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


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

    async def post(self, *_: str) -> None:
        self.state.begin()
        try:
            account = self.authenticate()
            body = self.json_body()
            knobs = request_knobs(account, self.request.headers)
            stream = self.streams and body.get("stream") is True
            fault = knobs.fault
            if fault in STREAM_ONLY_FAULTS and not stream:
                fault = None
            elif fault is not None and knobs.account_fault:
                consume_fault(account)
            self.state.record(account, self.protocol, self.request, body, stream, fault)
            if not await self.pause(knobs.latency):
                return
            if fault == "reset":
                self.reset_connection()
                return
            status = fault_status(fault) if fault else None
            if status is not None:
                self.send_status_fault(status, knobs)
                return
            self.validate(body)
            await self.respond(account, body, knobs, stream, fault)
        except ApiError as err:
            self.send_api_error(err)
        except KnobError as err:
            self.send_api_error(ApiError(400, str(err)))
        except StreamClosedError:
            pass  # the client went away: stop quietly
        except Exception:
            log.exception("emulator bug answering %s %s", self.request.method, self.request.path)
            self.send_api_error(ApiError(500))
        finally:
            self.state.end()

    def send_status_fault(self, status: int, knobs: Knobs) -> None:
        if status == 502:
            self.set_status(502)
            self.set_header("Content-Type", "text/html")
            self.finish(GATEWAY_502_BODY)
            return
        headers = rate_limit_headers(self.protocol, knobs.retry_after) if status == 429 else {}
        self.send_api_error(ApiError(status, headers=headers))

    async def finish_body(self, body: bytes, fault: str | None, delay: float = 0.0) -> None:
        """Send a non-streaming body after ``delay`` (the generation time); ``stall`` and
        ``eof`` apply here."""
        if not await self.pause(delay):
            return
        if fault == "stall":
            self.set_header("Content-Type", "application/json")
            await self.flush()
            await self.pause(None)
            return
        if fault == "eof":
            stream = self.detach()
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    f"{'request-id' if self.protocol == ANTHROPIC else 'x-request-id'}: {self.request_id}"
                    "\r\n\r\n").encode()
            try:
                await stream.write(head + body[: len(body) // 2])
            finally:
                stream.close()
            return
        self.send_json(body)

    async def play(self, frames: list[Frame], knobs: Knobs, fault: str | None,
                   error_frame: Callable[[int], bytes]) -> None:
        """Send a stream with pacing; ``stall``, ``eof`` and the stream errors cut it short."""
        for name, value in SSE_HEADERS.items():
            self.set_header(name, value)
        stop, tail = len(frames), None
        if fault in ("stall", "stream_error"):
            stop = 1
        elif fault in ("eof", "stream_error_late"):
            stop = _after_half_the_deltas(frames)
        if fault in ("stream_error", "stream_error_late"):
            tail = error_frame
        first = True
        pending: list[bytes] = []  # one write per flush: RequestHandler.write is not free
        for i in range(stop):
            is_delta, data = frames[i]
            if is_delta:
                delay = knobs.ttft if first else knobs.interval
                first = False
                if delay > 0:
                    self.write(b"".join(pending))
                    pending.clear()
                    await self.flush()
                    if not await self.pause(delay):
                        return
            pending.append(data)
        if tail is not None:
            pending.append(tail(stop))
        self.write(b"".join(pending))
        if fault == "stall":
            await self.flush()
            await self.pause(None)
        elif fault == "eof":
            await self.flush()
            self.detach().close()
        else:
            self.finish()


def _after_half_the_deltas(frames: list[Frame]) -> int:
    """The frame index just after half the content deltas (at least one)."""
    deltas = [i for i, (is_delta, _) in enumerate(frames) if is_delta]
    if not deltas:
        return max(1, len(frames) // 2)
    return deltas[max(1, len(deltas) // 2) - 1] + 1
