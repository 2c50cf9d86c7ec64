"""Shared fixtures: one real embedded MongoDB-wire server for the session (the same launcher
the relay uses), a fresh database per test module, relay apps on free ports, and a check that
no callback blocks the event loop."""

from __future__ import annotations

import asyncio
import gc
import re
import time
import uuid

import pytest
import pytest_asyncio
from cryptography.fernet import Fernet

from server.embedded_db import EmbeddedMongo
from server.secret_box import SecretBox
from server.storage.db import Storage
from tests.support import RelayUnderTest

# One key for the session: nx-27017 shares collections between database names, so every test
# module's storage must open what another module's sealed.
TEST_SECRETS_KEY = Fernet.generate_key()

# What one callback may take: CPU time (bcrypt at cost 12 is ~0.25 s, a big JSON parse shows
# too) or wall time (a synchronous socket call or sleep). The wall bound is generous because
# the suite shares two cores with the servers it starts.
SLOW_CALLBACK_CPU_SECONDS = 0.3
SLOW_CALLBACK_WALL_SECONDS = 2.0


@pytest.fixture(scope="session", autouse=True)
def loop_watch():
    """Time every event-loop callback (cheaper than asyncio debug mode) and keep the slow ones.
    Garbage-collection pauses are not the callback's doing and are subtracted."""
    original = asyncio.events.Handle._run
    reports: list[str] = []
    gc_seconds = [0.0, 0.0]  # total, start of the collection in progress

    def on_gc(phase: str, _info: dict) -> None:
        if phase == "start":
            gc_seconds[1] = time.perf_counter()
        else:
            gc_seconds[0] += time.perf_counter() - gc_seconds[1]

    def timed_run(handle: asyncio.events.Handle) -> None:
        wall, cpu, in_gc = time.perf_counter(), time.thread_time(), gc_seconds[0]
        original(handle)
        paused = gc_seconds[0] - in_gc
        wall = time.perf_counter() - wall - paused
        cpu = time.thread_time() - cpu - paused
        if cpu > SLOW_CALLBACK_CPU_SECONDS or wall > SLOW_CALLBACK_WALL_SECONDS:
            owner = getattr(handle._callback, "__self__", None)
            what = repr(owner.get_coro()) if isinstance(owner, asyncio.Task) else repr(handle._callback)
            reports.append(f"{what} took {wall:.3f} s ({cpu:.3f} s CPU)")

    gc.callbacks.append(on_gc)
    asyncio.events.Handle._run = timed_run
    yield reports
    asyncio.events.Handle._run = original
    gc.callbacks.remove(on_gc)


@pytest.fixture(autouse=True)
def no_blocking(loop_watch):
    """Per test: no callback blocked the event loop while it ran."""
    before = len(loop_watch)
    yield
    blocked = loop_watch[before:]
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
    # A module may watch its database's commands (``DB_EVENT_LISTENERS``: PyMongo listeners).
    store = Storage.connect(embedded_db.url, name,
                            event_listeners=list(getattr(request.module, "DB_EVENT_LISTENERS", ())))
    store.box = SecretBox([TEST_SECRETS_KEY])  # secrets sealed at rest, as the runtime does
    await store.ensure_indexes()
    yield store
    await store.drop()
    await store.close()


@pytest_asyncio.fixture(scope="module")
async def relay(storage, request):
    """A relay app of this module's own on a free port (the module's ``RELAY_SETTINGS``, if any)."""
    server = await RelayUnderTest.start(storage, **getattr(request.module, "RELAY_SETTINGS", {}))
    yield server
    await server.stop()
