"""The relay's HTTP server with ``TCP_NODELAY`` on for the whole connection.

Tornado turns Nagle's algorithm off only when a response finishes and back on before the next
request: two ``setsockopt`` calls per request (measured ~4 % of the relay's CPU under load,
issue 15), and every SSE event written before the end of a stream goes out under Nagle, where
a small write may wait for the ACK of the previous one. A relay writes small pieces it wants
sent now, so the option is set once per connection and Tornado's toggling is skipped."""

from __future__ import annotations

from typing import Any

import tornado.httpserver
import tornado.iostream


def _keep(_value: bool) -> None:
    """Tornado's per-request toggle: the connection keeps ``TCP_NODELAY`` on."""


class NoDelayHTTPServer(tornado.httpserver.HTTPServer):
    """``HTTPServer`` whose connections run with ``TCP_NODELAY`` from accept to close."""

    def handle_stream(self, stream: tornado.iostream.IOStream, address: Any) -> None:
        stream.set_nodelay(True)
        stream.set_nodelay = _keep  # type: ignore[method-assign, assignment]
        super().handle_stream(stream, address)
