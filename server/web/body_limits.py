"""Body limits chosen per route before any byte of the body is read.

The HTTP server's ``max_body_size`` is the relay's (32 MiB): it would let anyone send 32 MiB to
the login page, buffered before any handler runs. Here each request gets its own limit and read
timeout as soon as its headers arrive (Tornado's per-connection ``set_max_body_size`` /
``set_body_timeout``, called from ``find_handler``, which runs before the body is read):

* relay routes (``/v1/*`` and every other path a ``RelayHandler`` serves: ``/messages``,
  ``/responses``): ``max_body_bytes`` and ``body_read_timeout``;
* everything else (dashboard API, login, static files): ``dashboard_max_body_bytes`` (64 KiB)
  and at most 10 s to send it.

A declared ``Content-Length`` over the limit is answered at once with 413 in the route's own
envelope and the connection is closed, without reading the body. A chunked body is counted as
it arrives: past the limit the connection is dropped (Tornado's 400)."""

from __future__ import annotations

from typing import Any

import tornado.web
from tornado import httputil
from tornado.http1connection import HTTP1Connection

from server.errors import PayloadTooLarge
from server.i18n import t
from server.web.base import BaseHandler

SMALL_BODY_TIMEOUT = 10.0


def is_relay_path(path: str, relay_paths: frozenset[str]) -> bool:
    """``relay_paths``: every path a relay handler serves (``/messages``, ``/responses`` …),
    given by the route table (``server.app``); anything under ``/v1/`` counts too."""
    return path in relay_paths or path.startswith("/v1/")


class TooLargeHandler(BaseHandler):
    """Answers a request whose declared body is over its route's limit (the body is not read)."""

    def initialize(self, family: str, limit: int) -> None:
        self.family = family  # type: ignore[assignment]
        self.limit = limit

    def prepare(self) -> None:
        super().prepare()
        raise PayloadTooLarge(t("请求体过大(上限 {max_bytes} 字节)", max_bytes=self.limit))


class LimitedApplication(tornado.web.Application):
    """The app, choosing each request's body limit from its path before the body arrives."""

    def find_handler(self, request: httputil.HTTPServerRequest, **kwargs: Any):
        settings = self.settings["settings_obj"]
        if is_relay_path(request.path, self.settings.get("relay_paths", frozenset())):
            limit, timeout, family = settings.max_body_bytes, settings.body_read_timeout, "anthropic"
        else:
            limit, timeout, family = (settings.dashboard_max_body_bytes,
                                      min(SMALL_BODY_TIMEOUT, settings.body_read_timeout), "dashboard")
        connection = request.connection
        if isinstance(connection, HTTP1Connection):
            connection.set_max_body_size(limit)
            connection.set_body_timeout(timeout)
            if _declared_length(request) > limit:
                # Skip the body entirely: answer 413 and close (the unread bytes go with the socket).
                request.headers["Content-Length"] = "0"
                if hasattr(connection, "_disconnect_on_finish"):
                    connection._disconnect_on_finish = True
                if family == "anthropic" and request.path in ("/v1/responses", "/responses"):
                    family = "openai"
                return self.get_handler_delegate(request, TooLargeHandler, {"family": family, "limit": limit})
        return super().find_handler(request, **kwargs)


def _declared_length(request: httputil.HTTPServerRequest) -> int:
    try:
        return int(request.headers.get("Content-Length", "0"))
    except ValueError:
        return 0  # Tornado refuses a malformed length itself
