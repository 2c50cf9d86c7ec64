"""The relay's one service: a relayed call from its parsed HTTP request to its usage record.

The sequence, in this order and only here: admit (key, body, model, price, rate limit) → the
user's fair share of the pool → the key's concurrency slot → the money (a hold, or a balance
check for the free ``count_tokens``) → the proxy (accounts, failover, streaming into the
client's sink) → the usage record, handed to the record sink (``UsageRecorder``: batched
charges). The record is journaled and the access line written just before the answer's last
bytes leave (``_Answer.end`` / the error answer), so a process killed after that still bills
and has logged the request. The HTTP handler (``server.relay.handlers``) only parses the request, calls
``RelayService.handle`` and writes what it is given; nothing here imports Tornado."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from server.billing.charges import UsageRecord
from server.errors import DatabaseUnavailable, RelayError
from server.logs import request_id as log_request_id
from server.relay.access_log import log_access
from server.relay.admission import Admission, admit
from server.relay.context import ClientSink, RelayContext
from server.storage.timeouts import database_unavailable

if TYPE_CHECKING:
    from server.billing.holds import HoldService
    from server.metrics import Metrics
    from server.relay.fairshare import FairShare, Share
    from server.relay.limits import KeyLimits
    from server.relay.proxy import Proxy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayCall:
    """One relayed HTTP request, as the handler parsed it."""

    protocol: str  # "anthropic" | "openai"
    path: str  # upstream path (+ the client's query string for Anthropic)
    endpoint: str  # the path the client called
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    client_ip: str
    billable: bool = True  # False for count_tokens: free, but limited like any call


class AnswerSink(ClientSink, Protocol):
    """The client's side as the service sees it: the proxy's ``ClientSink`` plus two calls."""

    def bind(self, ctx: RelayContext) -> None:
        """The admitted request this sink answers (its id goes on every answer)."""
        ...

    def fail(self, err: RelayError) -> bool:
        """Answer with ``err`` in the protocol's envelope; False when the answer has started."""
        ...


class RecordSink(Protocol):
    """Where finished requests go (``UsageRecorder`` journals, queues and charges them); never raises."""

    def journal_append(self, record: UsageRecord) -> None: ...

    def record(self, record: UsageRecord, journaled: bool = False) -> None: ...


class RelayService:
    """admit → fair share → concurrency slot → hold → proxy → record, for every relayed call."""

    def __init__(self, admission: "Admission", limits: "KeyLimits", fairshare: "FairShare",
                 holds: "HoldService", proxy: "Proxy", records: RecordSink,
                 metrics: "Metrics") -> None:
        self.admission = admission  # keys, groups, prices, settings and the usage backlog
        self.limits = limits
        self.fairshare = fairshare
        self.holds = holds
        self.proxy = proxy
        self.records = records
        self.metrics = metrics

    async def handle(self, call: RelayCall, sink: AnswerSink) -> None:
        """Serve one call into ``sink``. Refusals before admission completes are raised (nothing
        was taken, nothing is billed); everything after it ends in exactly one usage record."""
        ctx = await admit(self.admission, protocol=call.protocol, path=call.path, endpoint=call.endpoint,
                          headers=call.headers, raw=call.body, client_ip=call.client_ip,
                          billable=call.billable)
        # On every log line written while serving it: each request runs in a task of its own
        # (a copy of the context), so the id never leaks into another request.
        log_request_id.set(ctx.request_id)
        sink.bind(ctx)
        finished = _Finished(self, ctx)
        try:
            share, slot = await self._take_places(ctx)
        except BaseException as exc:
            ctx.status = exc.status if isinstance(exc, RelayError) else 500
            ctx.outcome = "refused"  # a limit or the balance: nothing relayed, nothing billed
            finished.log()
            raise
        try:
            await self.proxy.relay(ctx, _Answer(sink, share, finished))
        except RelayError as err:
            ctx.status = err.status
            ctx.outcome = ctx.outcome if ctx.outcome != "ok" else "error"
            finished.seal()  # the error answer is the last bytes: journal and log first
            if not sink.fail(err):
                raise
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            # A stalled database (server.storage.timeouts): a 503 in the protocol's envelope,
            # recorded as such; after the answer went out, the record keeps the status the
            # client saw and the error only reaches the log.
            log.warning("request %s: database unavailable: %s", ctx.request_id, exc)
            if not sink.fail(DatabaseUnavailable()):
                raise
            ctx.status = DatabaseUnavailable.status
            ctx.outcome = ctx.outcome if ctx.outcome != "ok" else "error"
        finally:
            if ctx.billable:
                self._record(ctx, finished)  # first: nothing after this line may cost a charge
            finished.log()
            share.release()
            await self._release_slot(slot, ctx.request_id)

    async def _take_places(self, ctx: RelayContext) -> tuple["Share", str | None]:
        """The user's fair share of the pool, the key's concurrency slot, then the money: a
        hold on balance and quota (billable), or a fresh balance check (count_tokens). The
        rate limit was counted by admission; count_tokens takes a slot like any call."""
        share = self.fairshare.acquire(ctx.user["_id"], ctx.group["_id"])
        slot = None
        try:
            slot = await self.limits.acquire(ctx.key["_id"], int(ctx.key.get("max_concurrency") or 0),
                                             ctx.request_id)
            if ctx.billable:
                await self.holds.take(ctx)
            else:
                await self.holds.check_free(ctx)
        except BaseException:
            share.release()
            await self._release_slot(slot, ctx.request_id)
            raise
        return share, slot

    async def _release_slot(self, slot: str | None, request_id: str) -> None:
        try:
            await self.limits.release(slot, request_id)
        except Exception:  # noqa: BLE001 - a leaked slot expires with its lease
            log.exception("could not release concurrency slot %s", slot)

    def _record(self, ctx: RelayContext, finished: "_Finished") -> None:
        journaled = finished.record is not None
        record = finished.record or ctx.usage_record()
        self.records.record(record, journaled=journaled)
        self.metrics.observe_request(ctx.endpoint, record)


class _Finished:
    """The request's end, once: its record journaled and its access line written before the
    answer's last bytes leave."""

    def __init__(self, service: RelayService, ctx: RelayContext) -> None:
        self._service = service
        self._ctx = ctx
        self.record: UsageRecord | None = None
        self._logged = False

    def seal(self) -> None:
        if self._ctx.billable and self.record is None:
            self.record = self._ctx.usage_record()
            self._service.records.journal_append(self.record)
        self.log()

    def log(self) -> None:
        if not self._logged:
            self._logged = True
            log_access(self._ctx, self._ctx.status or 200)


class _Answer:
    """The client's sink as the proxy sees it: the user's fair-share place is freed as soon as
    the upstream answer has ended, before the client can send its next call."""

    def __init__(self, sink: AnswerSink, share: "Share", finished: _Finished) -> None:
        self._sink = sink
        self._share = share
        self._finished = finished

    def start(self, status: int, headers: dict[str, str]) -> None:
        self._sink.start(status, headers)

    async def send(self, data: bytes) -> bool:
        return await self._sink.send(data)

    def end(self, data: bytes = b"") -> None:
        self._share.release()
        if not self._sink.client_gone:
            self._finished.seal()
        self._sink.end(data)

    def attach_upstream(self, response: Any) -> None:
        self._sink.attach_upstream(response)

    @property
    def client_gone(self) -> bool:
        return self._sink.client_gone
