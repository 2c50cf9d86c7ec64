"""The relay's HTTP surface: ``/v1/messages`` and ``/messages`` (+ ``count_tokens``),
``/v1/responses`` and ``/responses``, ``/v1/models``. HTTP only: the request is parsed into a
``RelayCall`` and served by ``server.relay.service.RelayService``; errors in the protocol's
envelope."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import tornado.iostream
from tornado.http1connection import HTTP1Connection

from server.errors import BadRequest, RelayError
from server.relay.access_log import log_refused
from server.relay.admission import authenticate
from server.relay.context import RelayContext
from server.relay.service import RelayCall
from server.web.base import BaseHandler, dumps
from server.web.envelopes import error_body

log = logging.getLogger(__name__)


class RelayHandler(BaseHandler):
    """Every relayed endpoint's HTTP side: parse the request, hand it to ``RelayService`` and
    write what it is given (the service's ``AnswerSink``). No relay logic lives here."""

    protocol = "anthropic"
    upstream_path = "/v1/messages"
    billable = True
    api_db_deadline = False  # each database operation has db_timeout_relay (server.storage.timeouts)

    def initialize(self, protocol: str, upstream_path: str, billable: bool = True) -> None:
        self.protocol = protocol
        self.family = "anthropic" if protocol == "anthropic" else "openai"
        self.upstream_path = upstream_path
        self.billable = billable
        self._gone = False
        self._upstream_response: Any = None
        self._ctx: RelayContext | None = None

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    async def post(self) -> None:
        path = self.upstream_path
        if self.request.query and self.protocol == "anthropic":
            path += "?" + self.request.query
        call = RelayCall(protocol=self.protocol, path=path, endpoint=self.request.path,
                         headers={k.lower(): v for k, v in self.request.headers.get_all()},
                         body=self.request.body, client_ip=self.client_ip(), billable=self.billable)
        await self.deps.relay.handle(call, self)

    # -- AnswerSink -------------------------------------------------------------------------
    def bind(self, ctx: RelayContext) -> None:
        self._ctx = ctx

    def start(self, status: int, headers: dict[str, str]) -> None:
        self.set_status(status)
        for name, value in headers.items():
            self.set_header(name, value)
        self._set_request_id()

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
            # Written: the client may close right after reading it (Codex does once it has
            # response.completed), which marks the sink gone but does not undo this delivery.
            return True
        except tornado.iostream.StreamClosedError:
            self._gone = True
        except asyncio.TimeoutError:
            flushed.add_done_callback(_retrieve)
            log.info("request %s: client stopped reading for %.0f s; cut",
                     self._ctx.request_id if self._ctx else "-", self.deps.settings.client_write_timeout)
            self._gone = True
            if isinstance(self.request.connection, HTTP1Connection):
                self.request.connection.close()
        return False

    def end(self, data: bytes = b"") -> None:
        if self._gone or self._finished:
            return
        self.finish(data or None)

    def fail(self, err: RelayError) -> bool:
        if self._headers_written:
            return False
        self.set_status(err.status)
        for name, value in err.response_headers().items():
            self.set_header(name, value)
        self.set_header("content-type", "application/json")
        self._set_request_id()
        self.finish(dumps(error_body(self.family, err)))
        return True

    @property
    def client_gone(self) -> bool:
        return self._gone

    def attach_upstream(self, response: Any) -> None:
        self._upstream_response = response

    def _set_request_id(self) -> None:
        if self._ctx is not None:
            self.set_header("x-jiuliu-request-id", self._ctx.request_id)

    # -- connection -------------------------------------------------------------------------
    def on_connection_close(self) -> None:
        # Stop upstream work now: closing the response wakes the proxy's pending read.
        self._gone = True
        if self._upstream_response is not None:
            self._upstream_response.close()
        super().on_connection_close()

    def on_finish(self) -> None:
        super().on_finish()
        metrics = self.deps.metrics
        if not getattr(self, "_metered", False):
            self._metered = True  # on_connection_close may call this again
            status = 499 if self._gone and not self._finished else self.get_status()
            metrics.count_request(self.request.path, self._ctx.group["_id"] if self._ctx else "", status)
        if self._ctx is None and not getattr(self, "_logged", False):
            self._logged = True  # refused before admission: its access line is written here
            log_refused(self.request.path, self.get_status(), int(self.request.request_time() * 1000))


def _retrieve(future: asyncio.Future) -> None:
    """Collect the abandoned flush's outcome (a closed stream) so it is not reported as lost."""
    if not future.cancelled():
        future.exception()


class ModelsHandler(BaseHandler):
    """``GET /v1/models``: what the key's group can use, in its protocol's list format."""

    api_db_deadline = False

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
                             "data": [{"id": m, "object": "model", "created": 1735689600,
                                       "owned_by": "jiuliu"}
                                      for m in models]})


async def _any_protocol(handler: BaseHandler, headers: dict[str, str]):
    try:
        return await authenticate(handler.deps.admission, headers, "anthropic")
    except BadRequest:
        handler.family = "openai"
        return await authenticate(handler.deps.admission, headers, "openai")


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
