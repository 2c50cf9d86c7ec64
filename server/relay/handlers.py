"""The relay's HTTP surface: ``/v1/messages`` and ``/messages`` (+ ``count_tokens``),
``/v1/responses`` and ``/responses``, ``/v1/models``. Thin: admit → proxy → record; errors in the
protocol's envelope."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import tornado.iostream

from server.billing.charges import UsageRecord
from server.billing.usage import Usage
from server.errors import BadRequest, RelayError
from server.logs import request_id as log_request_id
from server.relay.access_log import log_access, log_refused
from server.relay.admission import admit, authenticate
from server.relay.context import RelayContext
from server.relay.fairshare import Share
from server.web.base import BaseHandler, dumps
from server.web.envelopes import error_body

log = logging.getLogger(__name__)


class RelayHandler(BaseHandler):
    """Shared by every relayed endpoint; implements the proxy's ``ClientSink``."""

    protocol = "anthropic"
    upstream_path = "/v1/messages"
    billable = True

    def initialize(self, protocol: str, upstream_path: str, billable: bool = True) -> None:
        self.protocol = protocol
        self.family = "anthropic" if protocol == "anthropic" else "openai"
        self.upstream_path = upstream_path
        self.billable = billable
        self._gone = False
        self._upstream_response: Any = None
        self._usage_record: UsageRecord | None = None  # built once, journaled before the last bytes
        self._recorded = False

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    # -- ClientSink -------------------------------------------------------------------------
    def start(self, status: int, headers: dict[str, str]) -> None:
        self.set_status(status)
        for name, value in headers.items():
            self.set_header(name, value)
        self.set_header("x-jiuliu-request-id", self._ctx.request_id)

    async def send(self, data: bytes) -> bool:
        """Write and wait for the client to take it, at most ``client_write_timeout``: a client
        that stops reading is cut (the proxy then closes the upstream and bills an abort), so
        it neither holds an upstream slot for ever nor lets buffers grow (one chunk at a time)."""
        if self._gone:
            return False
        self.write(data)
        flushed = self.flush()
        try:
            await asyncio.wait_for(asyncio.shield(flushed), self.deps.settings.client_write_timeout)
        except tornado.iostream.StreamClosedError:
            self._gone = True
        except asyncio.TimeoutError:
            flushed.add_done_callback(_retrieve)
            log.info("request %s: client stopped reading for %.0f s; cut", self._ctx.request_id,
                     self.deps.settings.client_write_timeout)
            self._gone = True
            self.request.connection.close()
        return not self._gone

    def end(self, data: bytes = b"") -> None:
        share = getattr(self, "_share", None)
        if share is not None:
            share.release()  # the upstream is done: free the place before the client can ask again
        if self._gone or self._finished:
            return
        ctx = getattr(self, "_ctx", None)
        if ctx is not None:
            self._journal(ctx)
        self.finish(data or None)

    @property
    def client_gone(self) -> bool:
        return self._gone

    def attach_upstream(self, response: Any) -> None:
        self._upstream_response = response

    def on_connection_close(self) -> None:
        # Stop upstream work now: closing the response wakes the proxy's pending read.
        self._gone = True
        if self._upstream_response is not None:
            self._upstream_response.close()
        super().on_connection_close()

    def on_finish(self) -> None:
        super().on_finish()
        metrics = self.deps.metrics
        if metrics is not None and not getattr(self, "_metered", False):
            self._metered = True  # on_connection_close may call this again
            ctx = getattr(self, "_ctx", None)
            status = 499 if self._gone and not self._finished else self.get_status()
            metrics.count_request(self.request.path, ctx.group["_id"] if ctx else "", status)
        if getattr(self, "_ctx", None) is None and not getattr(self, "_logged", False):
            self._logged = True  # refused before admission: its access line is written here
            log_refused(self.request.path, self.get_status(), int(self.request.request_time() * 1000))

    # -- request --------------------------------------------------------------------------
    async def post(self) -> None:
        headers = {k.lower(): v for k, v in self.request.headers.get_all()}
        path = self.upstream_path
        if self.request.query and self.protocol == "anthropic":
            path += "?" + self.request.query
        self._ctx = ctx = await admit(self.deps, protocol=self.protocol, path=path,
                                      endpoint=self.request.path, headers=headers, raw=self.request.body,
                                      client_ip=self.client_ip(), billable=self.billable)
        # On every log line written while serving it, including Tornado's report of an error
        # raised from here: each request runs in a task of its own (a copy of the context), so
        # the id never leaks into another request and needs no reset.
        log_request_id.set(ctx.request_id)
        try:
            await self._serve(ctx)
        except BaseException as exc:
            if not ctx.status:  # refused after admission (a limit, the balance): no answer relayed
                ctx.status = exc.status if isinstance(exc, RelayError) else 500
                ctx.outcome = "refused" if ctx.outcome == "ok" else ctx.outcome
            raise
        finally:
            self._access(ctx)

    async def _serve(self, ctx: RelayContext) -> None:
        # count_tokens is free but not unlimited: it takes a concurrency slot like any call.
        share, slot = await self._take_places(ctx)
        try:
            await self.deps.proxy.relay(ctx, self)
        except RelayError as err:
            ctx.status = err.status
            ctx.outcome = ctx.outcome if ctx.outcome != "ok" else "error"
            if self._headers_written:
                raise
            self.set_status(err.status)
            for name, value in err.response_headers().items():
                self.set_header(name, value)
            self.set_header("content-type", "application/json")
            self.set_header("x-jiuliu-request-id", ctx.request_id)
            self._journal(ctx)
            self.finish(dumps(error_body(self.family, err)))
        finally:
            if self.billable:
                self._record(ctx)  # first: nothing after this line may cost a charge (once per request)
            share.release()
            await self._release_slot(slot, ctx.request_id)

    async def _take_places(self, ctx) -> tuple[Share, str | None]:
        """The user's fair share of the pool, the key's concurrency slot, then the money: a
        hold on balance and quota (billable), or a fresh balance check (count_tokens)."""
        share = self._share = self.deps.fairshare.acquire(ctx.user["_id"], ctx.group["_id"])
        slot = None
        try:
            slot = await self.deps.limits.acquire(ctx.key["_id"], int(ctx.key.get("max_concurrency") or 0),
                                                  ctx.request_id)
            if self.billable:
                await self.deps.holds.take(ctx)
            else:
                await self.deps.holds.check_free(ctx)
        except BaseException:
            share.release()
            await self._release_slot(slot, ctx.request_id)
            raise
        return share, slot

    async def _release_slot(self, slot: str | None, request_id: str) -> None:
        try:
            await self.deps.limits.release(slot, request_id)
        except Exception:  # noqa: BLE001 - a leaked slot expires with its lease
            log.exception("could not release concurrency slot %s", slot)

    def _journal(self, ctx: RelayContext) -> None:
        """The answer is about to be complete: its usage goes to the local journal and its
        access line to the log before the last bytes leave, so a process killed from here on
        still bills it (at the next start) and has logged it."""
        if self.billable and self._usage_record is None:
            self._usage_record = self._build_record(ctx)
            self.deps.recorder.journal_append(self._usage_record)
        self._access(ctx)

    def _access(self, ctx: RelayContext) -> None:
        if not getattr(self, "_logged", False):
            self._logged = True
            log_access(ctx, ctx.status or self.get_status())

    def _record(self, ctx: RelayContext) -> None:
        """Queue the usage record for the database (journaled first if it was not yet), once."""
        if self._recorded:
            return
        self._recorded = True
        journaled = self._usage_record is not None
        record = self._usage_record or self._build_record(ctx)
        self.deps.recorder.record(record, journaled=journaled)
        if self.deps.metrics is not None:
            self.deps.metrics.observe_request(ctx.endpoint, record)

    def _build_record(self, ctx: RelayContext) -> UsageRecord:
        usage = ctx.usage if ctx.rule is not None else Usage()
        record = UsageRecord(
            request_id=ctx.request_id, user_id=ctx.user["_id"], key_id=ctx.key["_id"],
            key_name=ctx.key.get("name", ""), group=ctx.group["_id"], model=ctx.model, usage=usage,
            rule=ctx.rule, multiplier_ppm=ctx.multiplier_ppm, protocol=ctx.protocol, endpoint=ctx.endpoint,
            stream=ctx.stream, status=ctx.status or 200, outcome=ctx.outcome, error_class=ctx.error_class,
            attempts=ctx.attempts, latency_ms=ctx.elapsed_ms(), ttft_ms=ctx.ttft_ms,
            account_id=ctx.account_id, account_name=ctx.account_name, upstream_model=ctx.upstream_model,
            upstream_request_id=ctx.upstream_request_id, client_ip=ctx.client_ip,
            user_agent=ctx.user_agent, session_hash=ctx.session, repairs=list(ctx.repairs), hold=ctx.hold)
        return record


def _retrieve(future: asyncio.Future) -> None:
    """Collect the abandoned flush's outcome (a closed stream) so it is not reported as lost."""
    if not future.cancelled():
        future.exception()


class ModelsHandler(BaseHandler):
    """``GET /v1/models``: what the key's group can use, in its protocol's list format."""

    async def get(self) -> None:
        headers = {k.lower(): v for k, v in self.request.headers.get_all()}
        key, _user, group = await _any_protocol(self, headers)
        self.family = "anthropic" if group.get("protocol") == "anthropic" else "openai"
        models = await self.deps.pools.models_for(group["_id"], await self.deps.prices.rules(),
                                                  key.get("models") or [])
        if group.get("protocol") == "anthropic":
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                    for m in models]
            self.write_json({"data": data, "has_more": False, "first_id": models[0] if models else None,
                             "last_id": models[-1] if models else None})
        else:
            self.write_json({"object": "list",
                             "data": [{"id": m, "object": "model", "created": 1735689600, "owned_by": "jiuliu"}
                                      for m in models]})


async def _any_protocol(handler: BaseHandler, headers: dict[str, str]):
    try:
        return await authenticate(handler.deps, headers, "anthropic")
    except BadRequest:
        handler.family = "openai"
        return await authenticate(handler.deps, headers, "openai")


default_handlers = [
    (r"/v1/messages", RelayHandler, {"protocol": "anthropic", "upstream_path": "/v1/messages"}),
    (r"/v1/messages/count_tokens", RelayHandler,
     {"protocol": "anthropic", "upstream_path": "/v1/messages/count_tokens", "billable": False}),
    # Clients that append /messages to a base URL without /v1 (OpenCode's AI SDK provider).
    (r"/messages", RelayHandler, {"protocol": "anthropic", "upstream_path": "/v1/messages"}),
    (r"/messages/count_tokens", RelayHandler,
     {"protocol": "anthropic", "upstream_path": "/v1/messages/count_tokens", "billable": False}),
    (r"/v1/responses", RelayHandler, {"protocol": "openai", "upstream_path": "/v1/responses"}),
    (r"/responses", RelayHandler, {"protocol": "openai", "upstream_path": "/v1/responses"}),
    (r"/v1/models", ModelsHandler),
    (r"/models", ModelsHandler),
]
