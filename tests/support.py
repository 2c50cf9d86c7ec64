"""Test helpers: a real relay app on a free loopback port, over a given storage."""

from __future__ import annotations

from typing import Any

import httpx
import tornado.httpserver
import tornado.netutil

from server.app import make_app
from server.deps import Deps
from server.settings import Settings
from server.storage.db import Storage
from server.wiring import build_deps

TEST_SETTINGS: dict[str, Any] = {"bcrypt_rounds": 4, "usage_flush_interval": 0.05, "abort_drain": 1.0}


class RelayUnderTest:
    """The relay's app, dependencies and HTTP server, as ``jiuliu serve`` would build them."""

    def __init__(self, settings: Settings, deps: Deps, server: tornado.httpserver.HTTPServer,
                 port: int) -> None:
        self.settings = settings
        self.deps = deps
        self.server = server
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    @classmethod
    async def start(cls, storage: Storage, **overrides: Any) -> "RelayUnderTest":
        settings = Settings(**{**TEST_SETTINGS, "port": 0, **overrides})
        deps = await build_deps(settings, storage)
        app = make_app(settings, deps)
        server = tornado.httpserver.HTTPServer(app, max_body_size=settings.max_body_bytes)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        return cls(settings, deps, server, sockets[0].getsockname()[1])

    def client(self, **kw: Any) -> httpx.AsyncClient:
        """An HTTP client bound to this relay (close it, or use ``async with``)."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=30, **kw)

    async def stop(self) -> None:
        self.server.stop()
        await self.server.close_all_connections()
        for hook in reversed(self.deps.shutdown_hooks):
            result = hook()
            if hasattr(result, "__await__"):
                await result
