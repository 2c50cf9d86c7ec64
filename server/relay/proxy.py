"""The forward loop: pick an account, send, fail over until the commit point, stream through.

Commit point: until the first content event reaches the client the relay may still switch
accounts (error status, connect failure, a stream's head or first content not in time, or an
in-stream error event before content). Events that may precede content (``message_start``,
``ping``, ``response.created``, comments …) are held back until then, so the client never sees
bytes of two upstream responses. After the commit point an upstream failure ends the client's
stream with the protocol's own error event.

A non-streaming request, once sent, is never sent again for a timeout: its generation may be
running (and billed by the vendor), so the client gets a 504 in its protocol's envelope,
billed for what the upstream reported (nothing, if it answered nothing). See ``failures``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import orjson

from server.clock import Clock, WallClock
from server.errors import RelayError, UpstreamUnavailable
from server.pools.manager import PoolManager
from server.pools.state import AccountState
from server.pools.sticky import StickyStore
from server.pricing.usage import Usage
from server.relay.cache_hints import CacheHints
from server.relay.context import ClientSink, RelayContext
from server.relay.encrypted import ContextKeeper
from server.relay.exposure import client_headers, scrub_error
from server.relay.guard import Guard
from server.relay.metering import StreamMeter, usage_from_body
from server.relay.sse import ERROR_EVENTS, PREAMBLE_EVENTS, SseScanner
from server.settings import Settings
from server.upstream.client import UpstreamClient, forward_headers, origin
from server.upstream.errors import UpstreamEncodingError
from server.upstream.failures import UPSTREAM_ERRORS, describe, exception_kind, response_budget
from server.upstream.response import UpstreamResponse as Response
from server.web.envelopes import Family, sse_error_event

log = logging.getLogger(__name__)


# Reading an upstream error body may fail in these ways; the error is then classed without it.
_ERROR_BODY_FAILURES: tuple[type[BaseException], ...] = (*UPSTREAM_ERRORS, asyncio.TimeoutError,
                                                          UpstreamEncodingError)
MAX_HELD_EVENTS = 64  # events held back before the commit point (a ping storm commits early)


@dataclass
class Failure:
    """Why an attempt did not produce an answer (the loop may try another account)."""

    status: str
    error_type: str = ""
    message: str = ""
    http_status: int = 503
    repair: str | None = None  # the upstream refused the request's opaque context (server.relay.guard)
    final: bool = False  # the request may be running upstream: answer the client, try nobody else


class Proxy:
    """Relays one admitted request through the pools."""

    def __init__(self, settings: Settings, pools: PoolManager, sticky: StickyStore,
                 client: UpstreamClient, context: ContextKeeper | None = None,
                 clock: WallClock | None = None) -> None:
        self.settings = settings
        self.clock: WallClock = clock or Clock()
        self.pools = pools
        self.sticky = sticky
        self.client = client
        self.cache_hints = CacheHints()  # for estimating a cut Responses stream's cached input
        self.context = context  # encrypted context / thinking signatures (server.relay.guard)

    async def relay(self, ctx: RelayContext, sink: ClientSink) -> None:
        """Answer the client from the first account that can; bounded attempts and time."""
        group = ctx.group["_id"]
        preferred = await self.sticky.get(ctx.session) if ctx.session else None
        bound = preferred
        guard = ctx.guard = self.context.open(ctx) if self.context is not None else Guard(ctx, self.pools, 0)
        preferred = await guard.prepare(preferred)
        tried: list[str] = []
        # count_tokens is rate-limited apart from messages: its 429s rest the account for it only.
        scope = guard.scope = "count_tokens" if ctx.path.startswith("/v1/messages/count_tokens") else ""
        deadline = time.monotonic() + self.settings.upstream_first_byte_timeout * self.settings.max_attempts
        last: Failure | None = None
        while ctx.attempts < self.settings.max_attempts and time.monotonic() < deadline:
            account = await guard.choose(group, tried, preferred)
            if account is None:
                break
            tried.append(account.id)
            ctx.attempts += 1
            ctx.account_id, ctx.account_name = account.id, account.name
            ctx.upstream_model = account.upstream_model(ctx.model)
            ctx.usage = Usage()  # a failed attempt's reported usage is never billed
            account.inflight += 1
            started = time.monotonic()
            try:
                failure = await self._attempt(ctx, account, sink, scope)
            finally:
                account.inflight -= 1
            latency = (time.monotonic() - started) * 1000
            if failure is None:
                await self.pools.report_success(account, latency, ctx.ttft_ms)
                if ctx.outcome == "ok":
                    await self.pools.mark_healthy(account)
                ttl = await guard.settle(account)
                if ctx.session and ctx.outcome in ("ok", "client_abort"):
                    await self.sticky.put(ctx.session, account.id, expected=bound, ttl=ttl)
                return
            if failure.repair and await guard.after_failure(failure.repair, failure.message, account):
                continue  # the repaired request goes where the guard says (never cooled)
            last = failure
            if failure.status == "config":
                ctx.attempts -= 1  # nothing was sent: an unusable account costs no attempt
            ctx.usage = Usage()
            ctx.error_class = (f"{failure.status}:{failure.error_type}" if failure.error_type
                               else failure.status)
            if sink.client_gone:
                ctx.outcome, ctx.status = "client_abort", 499
                return
            if failure.final:
                ctx.outcome = "upstream_error"
                raise RelayError(f"上游在 {failure.message} 内未返回结果,"
                                 "请求未重发到其他账号(可能仍在上游执行)"
                                 if failure.status == "response_timeout" else "上游连接中断,响应不完整",
                                 type="timeout_error" if failure.http_status == 504 else "api_error",
                                 status=failure.http_status)
        ctx.outcome = "upstream_error"
        if last is None:
            raise UpstreamUnavailable(f"分组 {group} 当前没有可用的上游账号服务模型 {ctx.model}")
        status = last.http_status if last.http_status in (429, 529) else 503
        headers = {"retry-after": str(self._retry_after(group))}
        # The upstream's own words stay with the operator (account state, logs): they can name
        # the account's key or organisation.
        raise UpstreamUnavailable(f"上游暂时不可用({_failure_class(last)}),请稍后重试",
                                  status=status, headers=headers,
                                  type="overloaded_error" if status != 429 else "rate_limit_error")

    def _retry_after(self, group: str) -> int:
        """Seconds until the first cooling account of the group is back (1 to 60)."""
        now = self.clock.now()
        waits = [(a.doc.get("state") or {}).get("cooldown_until", 0) - now
                 for a in self.pools.group_accounts(group) if a.status == "cooling"]
        return int(min(60, max(1, min(waits, default=1))))

    async def _attempt(self, ctx: RelayContext, account: AccountState, sink: ClientSink,
                       scope: str = "") -> Failure | None:
        """One try on one account; None when the client got its answer."""
        body = ctx.body_bytes
        if ctx.upstream_model != ctx.model:
            body = orjson.dumps({**ctx.body, "model": ctx.upstream_model})
        headers = forward_headers(ctx.headers, account.doc.get("protocol", ctx.protocol),
                                  account.doc.get("api_key", ""))
        # Streams: the head must come within upstream_first_byte_timeout (the client's own
        # bound). Non-streaming: one budget for the whole answer, and none for the head alone.
        budget = None if ctx.stream else response_budget(self.settings, ctx.headers)
        deadline = None if budget is None else asyncio.get_running_loop().time() + budget
        started = time.monotonic()
        try:
            response = await self._send(account, ctx.path, headers, body, deadline)
        except UpstreamEncodingError as exc:
            raise _undecodable(ctx, exc) from None
        except UPSTREAM_ERRORS as exc:
            kind = exception_kind(exc, waiting=budget is not None)
            if kind == "response_timeout":
                return self._response_timeout(account, budget or 0.0, started)
            return await self._fail(account, Failure(kind, message=describe(exc),
                                                     http_status=504 if kind == "timeout" else 502))
        sink.attach_upstream(response)
        try:
            ctx.upstream_request_id = (response.headers.get("request-id")
                                       or response.headers.get("x-request-id"))
            if response.status >= 400:
                return await self._error_status(ctx, account, response, sink, deadline, scope)
            if ctx.stream and "text/event-stream" in response.headers.get("content-type", ""):
                return await self._stream(ctx, account, response, sink)
            try:
                async with asyncio.timeout_at(deadline):
                    return await self._whole(ctx, account, response, sink)
            except TimeoutError:
                if budget is None:
                    raise
                return self._response_timeout(account, budget, started)
        finally:
            sink.attach_upstream(None)
            response.release()

    async def _send(self, account: AccountState, path: str, headers: dict[str, str], body: bytes,
                    deadline: float | None) -> Response:
        """The one call into the upstream client. ``deadline`` (loop time) bounds a
        non-streaming call as a whole; a stream's head has the client's own head bound."""
        url = origin(account.doc["base_url"].rstrip("/") + path)
        async with asyncio.timeout_at(deadline):
            return await self.client.request("POST", url, headers, body,
                                             head_timeout=None if deadline is None else math.inf,
                                             proxy=self.client.proxy_for(account.doc))

    def _response_timeout(self, account: AccountState, budget: float, started: float) -> Failure:
        """A sent non-streaming request outlived its budget: never resent (the vendor may be
        generating and billing it), the account not blamed (slow is not broken)."""
        self.pools.note_slow(account, (time.monotonic() - started) * 1000, "response_timeout")
        return Failure("response_timeout", message=f"{budget:.0f} 秒", http_status=504, final=True)

    async def _fail(self, account: AccountState, failure: Failure, headers: dict[str, str] | None = None,
                    phase: str = "before") -> Failure:
        await self.pools.report_failure(account, failure.status, failure.error_type, failure.message,
                                        headers, phase)
        return failure

    async def _error_status(self, ctx: RelayContext, account: AccountState, response: Response,
                            sink: ClientSink, deadline: float | None, scope: str) -> Failure | None:
        try:
            async with asyncio.timeout_at(deadline):
                raw = await response.read()
        except _ERROR_BODY_FAILURES:
            raw = b""
        error_type, message = _error_fields(raw)
        repair = ctx.guard.rejected(response.status, error_type, message) if ctx.guard is not None else None
        if repair is not None:  # never the user's fault, never the account's: no rule, no cooldown
            return Failure(str(response.status), error_type, message, response.status, repair)
        rule = await self.pools.report_failure(account, str(response.status), error_type, message,
                                               dict(response.headers), "before", scope=scope)
        if rule.action != "pass":
            return Failure(str(response.status), error_type, message, http_status=response.status)
        # The client's own mistake: its answer as the upstream gave it, less the account's identity.
        ctx.status, ctx.outcome, ctx.error_class = response.status, "error", f"{response.status}:{error_type}"
        sink.start(response.status, client_headers(response.headers, "application/json"))
        sink.end(scrub_error(raw, account.doc))
        return None

    async def _whole(self, ctx: RelayContext, account: AccountState,
                     response: Response, sink: ClientSink) -> Failure | None:
        try:
            raw = await response.read()
        except UpstreamEncodingError as exc:
            raise _undecodable(ctx, exc) from None
        except UPSTREAM_ERRORS as exc:
            if isinstance(exc, TimeoutError) and not ctx.stream:
                raise  # the whole-answer budget: a response timeout (see _attempt)
            # The answer was under way: generated (and billed upstream), so not asked for again.
            await self._fail(account, Failure("connect", message=f"body: {describe(exc)}"), phase="after")
            return Failure("connect", message="body cut", http_status=502, final=True)
        try:
            parsed: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self._fail(account, Failure("502", message="upstream sent a non-JSON body"), phase="after")
            return Failure("502", message="non-JSON body", http_status=502, final=True)
        ctx.usage = usage_from_body(ctx.protocol, parsed)
        if ctx.protocol == "openai":
            self.cache_hints.remember(account.id, ctx.body, ctx.usage.input + ctx.usage.cache_read)
        if ctx.watch is not None:
            ctx.watch(b"", parsed)
        ctx.status = response.status
        ctx.ttft_ms = ctx.elapsed_ms()
        sink.start(response.status, client_headers(response.headers, "application/json"))
        sink.end(raw)
        return None

    async def _stream(self, ctx: RelayContext, account: AccountState,
                      response: Response, sink: ClientSink) -> Failure | None:
        closer = _CloseLater(response, self.settings.abort_drain)
        try:
            return await self._stream_events(ctx, account, response, sink, closer)
        finally:
            closer.cancel()

    async def _stream_events(self, ctx: RelayContext, account: AccountState, response: Response,
                             sink: ClientSink, closer: "_CloseLater") -> Failure | None:
        # Anthropic's SDKs drop events without an event: line; a data-only upstream gets them.
        scanner = SseScanner(add_event_lines=ctx.protocol == "anthropic")
        meter = StreamMeter(ctx.protocol, ctx.body)
        held: list[bytes] = []
        committed = False
        # A client may close as soon as it has the terminal event (Codex does, after
        # response.completed): that answer was delivered whole, not aborted.
        delivered = False
        family: Family = "anthropic" if ctx.protocol == "anthropic" else "openai"
        # Until content flows, one bound for the whole wait (pings must not extend it).
        commit_by = asyncio.get_running_loop().time() + self.settings.upstream_first_byte_timeout
        while True:
            try:
                if committed:
                    chunk = await response.content.readany()
                else:
                    async with asyncio.timeout_at(commit_by):
                        chunk = await response.content.readany()
            except UpstreamEncodingError as exc:
                if not committed:
                    raise _undecodable(ctx, exc) from None
                ctx.outcome, ctx.error_class = "upstream_error", "encoding"
                await sink.send(sse_error_event(family, RelayError("上游响应无法解码", type="api_error")))
                break
            except UPSTREAM_ERRORS as exc:
                if sink.client_gone:
                    break
                status = exception_kind(exc)
                if not committed:
                    return await self._fail(account, Failure(status, message=describe(exc), http_status=502))
                await self._end_committed(ctx, account, sink, family, status,
                                          f"上游连接中断({type(exc).__name__})")
                break
            if not chunk:
                break
            out: list[bytes] = []
            for name, raw, data in scanner.feed(chunk):
                meter.observe(name, data, raw)
                if ctx.watch is not None:
                    ctx.watch(name, data, raw)
                if name in ERROR_EVENTS:
                    error_type, message = _event_error(data)
                    if not committed:
                        # A refusal of the request's opaque context inside the stream: as its 400.
                        repair = (ctx.guard.rejected(400, error_type, message)
                                  if ctx.guard is not None else None)
                        if repair is not None:
                            return Failure("stream_error", error_type, message, 400, repair)
                        return await self._fail(account, Failure("stream_error", error_type, message,
                                                                 http_status=529))
                    ctx.outcome, ctx.error_class = "upstream_error", f"stream_error:{error_type}"
                    await self.pools.report_failure(account, "stream_error", error_type, message, None,
                                                    "after")
                    out.append(scrub_error(raw, account.doc))
                    continue
                if not committed:
                    if name in PREAMBLE_EVENTS and len(held) < MAX_HELD_EVENTS:
                        held.append(raw)
                        continue
                    committed = True
                    ctx.status = 200
                    ctx.ttft_ms = ctx.elapsed_ms()
                    # From here a disconnect no longer closes the upstream at once: the usage
                    # still to come is drained (bounded) so the delivered answer is billed.
                    # The bound runs from the moment the client leaves, even while the
                    # upstream sends nothing (a stall would otherwise hold it until the
                    # idle timeout, and the row would wait as long).
                    sink.attach_upstream(closer)
                    sink.start(200, client_headers(response.headers, "text/event-stream"))
                    out.extend(held)
                    held.clear()
                out.append(raw)
            ctx.usage = meter.usage
            if out and not await sink.send(b"".join(out)):
                break
            if out and meter.finished:
                delivered = True  # the terminal event reached the client's socket
        if sink.client_gone and not delivered:
            if committed and not meter.final:
                await self._drain_for_usage(response, scanner, meter)
            # The upstream's final usage if the drain caught it; else the best estimate
            # (message_start's input or the request body's, the output streamed so far).
            ctx.usage = self._billable(ctx, account, meter)
            ctx.outcome = "client_abort"
            ctx.status = ctx.status or 499
            return None
        if not committed:
            # The stream ended before any content: nothing reached the client, try elsewhere.
            return await self._fail(account, Failure("connect", message="stream ended before content",
                                                     http_status=502))
        if not meter.finished and ctx.outcome == "ok":
            await self._end_committed(ctx, account, sink, family, "connect", "上游响应不完整,请重试")
        ctx.usage = self._billable(ctx, account, meter)  # died after content: estimated, never free
        sink.end()
        return None

    def _billable(self, ctx: RelayContext, account: AccountState, meter: StreamMeter) -> Usage:
        """What this stream bills; a Responses stream's reported input feeds the cache hints."""
        if ctx.protocol != "openai":
            return meter.billable()
        if meter.final:
            self.cache_hints.remember(account.id, ctx.body, meter.usage.input + meter.usage.cache_read)
            return meter.usage
        return meter.billable(self.cache_hints.cached(account.id, ctx.body))

    async def _drain_for_usage(self, response: Response, scanner: SseScanner,
                               meter: StreamMeter) -> None:
        """The client left mid-answer: read on, writing nothing, for at most ``abort_drain``
        seconds, so the upstream's final usage (Anthropic's last ``message_delta``, Responses'
        ``response.completed``) is what gets billed; then let the connection go."""
        try:
            async with asyncio.timeout(self.settings.abort_drain):
                while not meter.final:
                    chunk = await response.content.readany()
                    if not chunk:
                        return
                    for name, raw, data in scanner.feed(chunk):
                        meter.observe(name, data, raw)
        except UPSTREAM_ERRORS:
            return
        finally:
            response.close()

    async def _end_committed(self, ctx: RelayContext, account: AccountState, sink: ClientSink,
                             family: Family, status: str, message: str) -> None:
        """After the commit point: end the client's stream with the protocol's error event."""
        ctx.outcome, ctx.error_class = "upstream_error", status
        await self.pools.report_failure(account, status, "", message, None, "after")
        await sink.send(sse_error_event(family, RelayError(message, type="api_error")))


class _CloseLater:
    """Attached to the client sink after the commit point: when the client leaves, the upstream
    is closed ``delay`` seconds later rather than at once, so its final usage can still come."""

    def __init__(self, response: Response, delay: float) -> None:
        self.response = response
        self.delay = delay
        self._timer: asyncio.TimerHandle | None = None

    def close(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.delay, self.response.close)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _undecodable(ctx: RelayContext, exc: Exception) -> RelayError:
    """A body the relay cannot decode: a clear 502, and no cooldown (it says nothing of health)."""
    ctx.outcome, ctx.error_class = "upstream_error", "encoding"
    log.warning("upstream %s: %s", ctx.account_name, exc)
    return RelayError("上游响应的内容编码无法解码,请稍后重试", status=502, type="api_error")


def _failure_class(failure: Failure) -> str:
    """What a client may learn of an upstream failure: its class, never the upstream's text."""
    return {"timeout": "上游超时", "connect": "上游连接失败", "stream_error": "上游流中断",
            "config": "上游账号配置错误"}.get(
        failure.status, f"上游返回 {failure.status}")


def _error_fields(raw: bytes) -> tuple[str, str]:
    """(type, message) from an Anthropic or OpenAI error body, if it is one."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "", raw[:200].decode("utf-8", "replace")
    return _event_error(data)


def _event_error(data: Any) -> tuple[str, str]:
    if not isinstance(data, dict):
        return "", ""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("type") or error.get("code") or ""), str(error.get("message") or "")
    response = data.get("response")
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        err = response["error"]
        return str(err.get("code") or err.get("type") or ""), str(err.get("message") or "")
    return str(data.get("code") or ""), str(data.get("message") or "")
