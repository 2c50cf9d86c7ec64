"""Shared fixtures: one real embedded MongoDB-wire server for the session (the same launcher
the relay uses), a fresh database per test module, relay apps on free ports, and a check that
no callback blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid

import pytest
import pytest_asyncio

from server.embedded_db import EmbeddedMongo
from server.storage.db import Storage
from tests.support import RelayUnderTest

SLOW_CALLBACK_SECONDS = 0.25


class _SlowCallbacks(logging.Handler):
    """Collects asyncio debug-mode reports of callbacks that held the loop too long."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if re.search(r"^Executing .* took [0-9.]+ seconds$", message, re.S):
            self.reports.append(message)


@pytest_asyncio.fixture(scope="session", autouse=True)
async def loop_watch():
    """Fail the module whose code blocked the event loop for longer than a quarter second."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    handler = _SlowCallbacks()
    logging.getLogger("asyncio").addHandler(handler)
    yield handler
    logging.getLogger("asyncio").removeHandler(handler)


@pytest.fixture(autouse=True)
def no_blocking(loop_watch):
    """Per test: the event loop was never blocked while it ran."""
    before = len(loop_watch.reports)
    yield
    blocked = loop_watch.reports[before:]
    assert not blocked, "event loop blocked:\n" + "\n".join(blocked)


@pytest_asyncio.fixture(scope="session")
async def embedded_db(tmp_path_factory):
    """The real wire-protocol database, over TCP, for the whole session."""
    db = EmbeddedMongo(tmp_path_factory.mktemp("embedded-db"))
    await db.start(timeout=30)
    yield db
    db.stop()


@pytest_asyncio.fixture(scope="module")
async def storage(embedded_db, request):
    """A database of this test module's own, dropped afterwards."""
    name = "t_" + re.sub(r"\W", "_", request.module.__name__.split(".")[-1])[:40] + "_" + uuid.uuid4().hex[:6]
    store = Storage.connect(embedded_db.url, name)
    await store.ensure_indexes()
    yield store
    await store.drop()
    await store.close()


@pytest_asyncio.fixture(scope="module")
async def relay(storage):
    """A relay app of this module's own on a free port (settings via ``relay_settings``)."""
    server = await RelayUnderTest.start(storage)
    yield server
    await server.stop()
