"""Assembling and running the emulator: ``make_emulator_app`` (no I/O), ``start_emulator`` (in the
caller's event loop, for tests and the demo) and ``run_emulator`` (blocking, for the CLI)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Iterable

import tornado.httpserver
import tornado.netutil
import tornado.web

from server.emulator import anthropic, control, models, responses
from server.emulator.accounts import EmulatorAccount
from server.emulator.base import ApiError, EmulatorHandler
from server.emulator.faults import ANTHROPIC, OPENAI
from server.emulator.state import EmulatorState

log = logging.getLogger("jiuliu.emulator")
access_log = logging.getLogger("jiuliu.emulator.access")


class NotFoundHandler(EmulatorHandler):
    """Unknown paths: a 404 in the envelope of whichever vendor the caller looks like."""

    def prepare(self) -> None:
        headers = self.request.headers
        self.protocol = ANTHROPIC if ("anthropic-version" in headers or "x-api-key" in headers) else OPENAI
        super().prepare()
        self.send_api_error(ApiError(404, f"Not found: {self.request.method} {self.request.path}"))


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # Faults answer 4xx/5xx on purpose, so nothing here is an error; off the hot path by default.
    if access_log.isEnabledFor(logging.DEBUG):
        access_log.debug("%d %s %.1fms", handler.get_status(), handler._request_summary(),
                         1000.0 * handler.request.request_time())


def make_emulator_app(accounts: Iterable[EmulatorAccount]) -> tornado.web.Application:
    """The emulator's routes over a fresh ``EmulatorState`` (exposed as ``app.emulator_state``)."""
    state = EmulatorState(accounts)
    kwargs = {"state": state}
    routes: list = [(path, handler, kwargs) for path, handler in
                    anthropic.default_handlers + responses.default_handlers + models.default_handlers]
    routes += control.default_handlers(state)
    app = tornado.web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=kwargs,
        emulator_state=state,
        log_function=_log_request,
        compress_response=False,
    )
    app.emulator_state = state  # type: ignore[attr-defined]
    return app


class EmulatorServer:
    """A running emulator: its port, base URL and state; ``stop()`` closes every connection."""

    def __init__(self, server: tornado.httpserver.HTTPServer, state: EmulatorState, host: str,
                 port: int) -> None:
        self.server = server
        self.state = state
        self.host = host
        self.port = port
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self.base_url = f"http://{shown}:{port}"

    async def stop(self) -> None:
        """Stop listening, then close open connections (stalled streams end here)."""
        self.server.stop()
        await self.server.close_all_connections()


async def start_emulator(accounts: Iterable[EmulatorAccount], host: str = "127.0.0.1",
                         port: int = 0) -> EmulatorServer:
    """Serve the emulator in the running event loop (port 0: a free one)."""
    app = make_emulator_app(accounts)
    server = tornado.httpserver.HTTPServer(app)
    sockets = tornado.netutil.bind_sockets(port, host)
    server.add_sockets(sockets)
    return EmulatorServer(server, app.emulator_state, host, sockets[0].getsockname()[1])


def run_emulator(host: str, port: int, accounts: list[EmulatorAccount]) -> None:
    """Serve until SIGINT/SIGTERM (``jiuliu emulator``)."""

    async def main() -> None:
        emulator = await start_emulator(accounts, host, port)
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
