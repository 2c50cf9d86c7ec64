"""Assembling and running the emulator: ``make_emulator_app`` (no I/O), ``start_emulator`` (in the
caller's event loop, for tests and the demo) and ``run_emulator`` (blocking, for the CLI).

Routing is Tornado's: a route's pattern must match the whole path, its groups are URL-decoded
and passed to the handler's method; a method the handler lacks is a 405; an unknown path is a
404 in the envelope of whichever vendor the caller looks like.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import ssl as ssl_module
import time
from typing import Any, Coroutine, Iterable
from urllib.parse import unquote

import tornado.netutil

from emulator import anthropic, control, models, responses
from emulator.accounts import EmulatorAccount
from emulator.base import ApiError, EmulatorHandler, Handler
from emulator.models import protocol_of
from emulator.state import EmulatorState
from emulator.wire import Connection, HttpServer, Request

log = logging.getLogger("jiuliu.emulator")
access_log = logging.getLogger("jiuliu.emulator.access")

#: The methods Tornado dispatched at all; any other is a 405 on every path.
SUPPORTED_METHODS = frozenset(("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"))


class NotFoundHandler(EmulatorHandler):
    """Unknown paths: a 404 in the envelope of whichever vendor the caller looks like."""

    def __init__(self, state: EmulatorState, request: Request, conn: Connection) -> None:
        self.protocol = protocol_of(request)
        super().__init__(state, request, conn)

    def any(self) -> None:
        self.send_api_error(ApiError(404, f"Not found: {self.request.method} {self.request.path}"))


_REGEX_CHARS = re.compile(r"[()\[\]{}?*+|^$\\.]")


class EmulatorApp:
    """The emulator's routes over one ``EmulatorState``; ``dispatch`` answers a request."""

    def __init__(self, state: EmulatorState, routes: list[tuple[str, type[Handler]]]) -> None:
        self.state = self.emulator_state = state
        self._exact: dict[str, type[Handler]] = {}
        self._patterns: list[tuple[re.Pattern, type[Handler]]] = []
        for pattern, handler in routes:
            if _REGEX_CHARS.search(pattern) is None:
                self._exact.setdefault(pattern, handler)
            else:
                self._patterns.append((re.compile(pattern), handler))

    def route(self, path: str) -> tuple[type[Handler], tuple[str, ...]]:
        handler = self._exact.get(path)
        if handler is not None:
            return handler, ()
        for pattern, handler in self._patterns:
            match = pattern.fullmatch(path)
            if match is not None:
                return handler, tuple(unquote(g) for g in match.groups())
        return NotFoundHandler, ()

    def dispatch(self, request: Request, conn: Connection) -> Coroutine[Any, Any, None] | None:
        """Answer ``request`` on ``conn``: done on return, or the coroutine still to run."""
        if access_log.isEnabledFor(logging.DEBUG):
            return self._logged(request, conn)
        return self._answer(request, conn)

    def _answer(self, request: Request, conn: Connection) -> Coroutine[Any, Any, None] | None:
        handler_class, args = self.route(request.path)
        handler = handler_class(self.state, request, conn)
        method = request.method
        if method not in SUPPORTED_METHODS:
            handler.method_not_allowed()
            return None
        if handler_class is NotFoundHandler:
            handler.any()  # type: ignore[attr-defined]
            return None
        answer = getattr(handler, method.lower(), None)
        if answer is None:
            handler.method_not_allowed()
            return None
        return answer(*args)

    async def _logged(self, request: Request, conn: Connection) -> None:
        # Faults answer 4xx/5xx on purpose, so nothing here is an error; off the hot path by default.
        started = time.perf_counter()
        coro = self._answer(request, conn)
        if coro is not None:
            await coro
        access_log.debug("%d %s %s %.1fms", conn.status, request.method, request.uri,
                         1000.0 * (time.perf_counter() - started))


def make_emulator_app(accounts: Iterable[EmulatorAccount]) -> EmulatorApp:
    """The emulator's routes over a fresh ``EmulatorState`` (exposed as ``app.emulator_state``)."""
    state = EmulatorState(accounts)
    routes = anthropic.default_handlers + responses.default_handlers + models.default_handlers
    return EmulatorApp(state, routes + control.default_handlers(state))


class EmulatorServer:
    """A running emulator: its port, base URL and state; ``stop()`` closes every connection."""

    def __init__(self, server: HttpServer, state: EmulatorState, host: str, port: int,
                 scheme: str = "http") -> None:
        self.server = server
        self.state = state
        self.host = host
        self.port = port
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self.base_url = f"{scheme}://{shown}:{port}"

    async def stop(self) -> None:
        """Stop listening, then close open connections (stalled streams end here)."""
        await self.server.close()


async def start_emulator(accounts: Iterable[EmulatorAccount], host: str = "127.0.0.1",
                         port: int = 0, ssl: "ssl_module.SSLContext | None" = None) -> EmulatorServer:
    """Serve the emulator in the running event loop (port 0: a free one); with ``ssl`` (a
    server context, e.g. from a ``trustme`` CA) it is an https upstream."""
    app = make_emulator_app(accounts)
    server = HttpServer(app.dispatch)
    sockets = tornado.netutil.bind_sockets(port, host)
    await server.listen(sockets, ssl=ssl)
    return EmulatorServer(server, app.emulator_state, host, sockets[0].getsockname()[1],
                          "https" if ssl is not None else "http")


def run_emulator(host: str, port: int, accounts: list[EmulatorAccount], tls_cert: str = "",
                 tls_key: str = "") -> None:
    """Serve until SIGINT/SIGTERM (``jiuliu emulator``); https with ``tls_cert`` (PEM, and
    ``tls_key`` unless the certificate file holds the key too)."""
    context: ssl_module.SSLContext | None = None
    if tls_cert:
        context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_cert, tls_key or None)

    async def main() -> None:
        emulator = await start_emulator(accounts, host, port, ssl=context)
        log.info("upstream emulator on %s (Anthropic /v1/messages, OpenAI /v1/responses); accounts: %s",
                 emulator.base_url, ", ".join(a.name for a in accounts))
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        try:
            await stopping.wait()
        finally:
            await emulator.stop()

    asyncio.run(main())
