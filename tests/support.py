"""Test helpers: a real relay app on a free loopback port, over a given storage."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, Callable

import httpx
import tornado.httpserver
import tornado.netutil

from server.app import make_app
from server.billing.charges import UsageRecord
from server.deps import Deps
from server.relay.recorder import UsageRecorder
from server.settings import Settings
from server.storage.db import Storage
from server.wiring import build_deps

TEST_SETTINGS: dict[str, Any] = {"bcrypt_rounds": 4, "usage_flush_interval": 0.05, "abort_drain": 1.0}


class UsageWatch:
    """The relay service's record sink in tests: passes every record on to the real recorder
    and lets a test wait until a finished request's record was handed over (the handler
    records after the answer, so a client may see the answer first)."""

    def __init__(self, recorder: UsageRecorder) -> None:
        self.recorder = recorder
        self._recent: OrderedDict[str, UsageRecord] = OrderedDict()
        self._waiters: list[tuple[Callable[[UsageRecord], bool], asyncio.Future]] = []

    def journal_append(self, record: UsageRecord) -> None:
        self.recorder.journal_append(record)

    def record(self, record: UsageRecord, journaled: bool = False) -> None:
        self.recorder.record(record, journaled=journaled)
        self._recent[record.request_id] = record
        if len(self._recent) > 1000:
            self._recent.popitem(last=False)
        for predicate, waiter in self._waiters:
            if not waiter.done() and predicate(record):
                waiter.set_result(record)
        self._waiters = [(p, w) for p, w in self._waiters if not w.done()]

    async def wait_for(self, predicate: Callable[[UsageRecord], bool], timeout: float = 30.0) -> UsageRecord:
        """The first record (recent ones count) matching ``predicate``."""
        for record in self._recent.values():
            if predicate(record):
                return record
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, waiter))
        return await asyncio.wait_for(waiter, timeout)

    async def wait_recorded(self, request_id: str, timeout: float = 30.0) -> UsageRecord:
        """The record of request ``request_id`` once it was handed to the recorder."""
        return await self.wait_for(lambda record: record.request_id == request_id, timeout)


class RelayUnderTest:
    """The relay's app, dependencies and HTTP server, as ``jiuliu serve`` would build them."""

    def __init__(self, settings: Settings, deps: Deps, server: tornado.httpserver.HTTPServer,
                 port: int) -> None:
        self.settings = settings
        self.deps = deps
        self.server = server
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        # Tests observe finished requests through this sink, not through the production recorder.
        self.usage = UsageWatch(deps.recorder)
        deps.relay.records = self.usage

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
