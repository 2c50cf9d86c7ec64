"""Database timeouts (server.storage.timeouts): a stalled database gives clear errors within
the configured bounds and no hung request, and everything works again once it answers.

The database is an embedded server of this test's own (not the session's shared one), paused
with SIGSTOP: the process keeps its socket open and simply stops answering, which is what a
hung or overloaded MongoDB looks like to the relay. Calls go over real HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo.errors import ConnectionFailure

from server.billing.charges import UsageRecord
from server.embedded_db import EmbeddedMongo
from server.errors import DatabaseUnavailable
from server.pricing.usage import Usage
from server.secret_box import SecretBox
from server.settings import Settings, SettingsError
from server.storage.db import Storage
from server.storage.timeouts import client_options, database_unavailable
from tests.conftest import TEST_SECRETS_KEY
from tests.relay.support import add_upstreams, make_key, make_user, start_pool_emulator
from tests.support import TEST_SETTINGS, RelayUnderTest

BOUNDS = {"db_timeout_relay": 1.0, "db_timeout_api": 2.0, "db_timeout_flush": 2.0, "db_timeout_jobs": 2.0}
# What a loaded 2-core machine may add to a bound; far below "hung" (the HTTP client gives up at 20 s).
SLACK = 2.5
MESSAGE = DatabaseUnavailable.default_message
MODEL = "claude-sonnet-5-5"


class Stalled:
    """A relay over a database of its own, and the means to pause that database."""

    def __init__(self, db: EmbeddedMongo, storage: Storage, relay: RelayUnderTest, emu: Any) -> None:
        self.db, self.storage, self.relay, self.emu = db, storage, relay, emu

    def pause(self) -> None:
        assert self.db.pid is not None
        os.kill(self.db.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.db.pid is not None:
            os.kill(self.db.pid, signal.SIGCONT)


@pytest_asyncio.fixture
async def stalled(tmp_path):
    db = EmbeddedMongo(tmp_path / "db")
    await db.start(timeout=30)
    # A long flush interval: the test flushes by hand, so no background flush races it.
    settings = Settings(**{**TEST_SETTINGS, **BOUNDS, "usage_flush_interval": 3600.0})
    storage = Storage.connect(db.url, "stall", **client_options(settings))  # as the runtime connects
    storage.box = SecretBox([TEST_SECRETS_KEY])
    await storage.ensure_indexes()
    relay = emu = None
    try:
        # A lease renewal period longer than the test: the warm key's budget lease stays valid.
        relay = await RelayUnderTest.start(storage, **BOUNDS, usage_flush_interval=3600.0,
                                           hold_lease_seconds=3600.0)
        emu = await start_pool_emulator(["a1", "o1"])
        await relay.deps.prices.seed_if_empty()
        await relay.deps.runtime_settings.update(default_rate_limit=0)
        await add_upstreams(relay.deps, emu, ["a1"], "claude", "anthropic")
        await add_upstreams(relay.deps, emu, ["o1"], "codex", "openai")
        yield Stalled(db, storage, relay, emu)
    finally:
        if db.pid is not None:
            os.kill(db.pid, signal.SIGCONT)  # a failed assertion must not leave it paused
        if relay is not None:
            await relay.stop()
        if emu is not None:
            await emu.stop()
        await storage.close()
        db.stop()


async def _timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


def _anthropic(key: str) -> dict[str, Any]:
    return {"headers": {"x-api-key": key, "anthropic-version": "2023-06-01"},
            "json": {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}}


async def test_a_stalled_database_fails_each_class_within_its_bound_then_recovers(stalled):
    relay, storage = stalled.relay, stalled.storage
    user = await make_user(storage, balance=100_000_000)
    warm_key = await make_key(storage, user["_id"], "claude")
    cold_claude = await make_key(storage, user["_id"], "claude")  # never used before the stall:
    cold_codex = await make_key(storage, user["_id"], "codex")    # its lookup must reach the database
    token, _ = relay.deps.sessions.issue(user)
    auth = {"Authorization": f"Bearer {token}"}
    rule = await relay.deps.prices.find(MODEL)
    assert rule is not None
    key_doc = await storage.db.api_keys.find_one({"user_id": user["_id"], "group": "claude"})
    record = UsageRecord(request_id="req_stalled_flush", user_id=user["_id"], key_id=key_doc["_id"],
                         group="claude",
                         model=MODEL, usage=Usage(input=1000, output=100), rule=rule)

    async with httpx.AsyncClient(base_url=relay.base_url, timeout=20) as http:
        warm = await http.post("/v1/messages", **_anthropic(warm_key))
        assert warm.status_code == 200, warm.text
        assert (await http.get("/api/user/me", headers=auth)).status_code == 200
        relay.deps.recorder.record(record)

        stalled.pause()
        try:
            results = await asyncio.gather(
                _timed(http.post("/v1/messages", **_anthropic(cold_claude))),
                _timed(http.post("/v1/messages", **_anthropic(warm_key))),
                _timed(http.post("/v1/responses", headers={"Authorization": f"Bearer {cold_codex}"},
                                 json={"model": "gpt-5.4", "input": "hi"})),
                _timed(http.get("/api/user/logs", headers=auth)),
                _timed(http.get("/healthz")),
            )
            (cold, cold_t), (again, again_t), (codex, codex_t), (logs, logs_t), (health, health_t) = results

            # A warm key and user admit against this process's budget lease (issue 15) without a
            # database round trip: answered, and billed once the database is back (checked below).
            assert again.status_code == 200, again.text
            # The relay: the protocol's own envelope, 503, retry-after, within the relay bound.
            for response, took in ((cold, cold_t),):
                assert response.status_code == 503, response.text
                assert response.json() == {"type": "error",
                                           "error": {"type": "api_error", "message": MESSAGE}}
                assert response.headers["retry-after"] == "1"
                assert took < BOUNDS["db_timeout_relay"] * 2 + SLACK, took
            assert codex.status_code == 503, codex.text
            assert (codex.json()["error"]["message"], codex.json()["error"]["type"]) == (MESSAGE, "api_error")
            assert codex_t < BOUNDS["db_timeout_relay"] * 2 + SLACK, codex_t
            # The dashboard API: its envelope, within one request deadline.
            assert logs.status_code == 503, logs.text
            assert logs.json() == {"error": {"message": MESSAGE, "type": "api_error"}}
            assert BOUNDS["db_timeout_api"] * 0.5 < logs_t < BOUNDS["db_timeout_api"] + SLACK, logs_t
            assert health.status_code == 503 and health.json()["database"] is False
            assert health_t < BOUNDS["db_timeout_relay"] + SLACK, health_t

            # A usage flush gives up after its bound and keeps the whole batch for the next one.
            queued = relay.deps.recorder.pending  # ours and the warm call's
            assert queued >= 1
            started = time.monotonic()
            with pytest.raises(ConnectionFailure) as failed:
                await relay.deps.recorder.flush()
            assert time.monotonic() - started < BOUNDS["db_timeout_flush"] + SLACK
            assert database_unavailable(failed.value)
            assert relay.deps.recorder.pending == queued

            # A maintenance job run fails (counted) instead of hanging the scheduler.
            job = relay.deps.scheduler.jobs["rate_windows"]
            failures = job.failures
            started = time.monotonic()
            await relay.deps.scheduler.run_job("rate_windows")
            assert time.monotonic() - started < BOUNDS["db_timeout_jobs"] + SLACK
            assert job.failures == failures + 1
        finally:
            stalled.resume()

        # Once the database answers again, so does everything, without a restart.
        back = await http.post("/v1/messages", **_anthropic(cold_claude))
        assert back.status_code == 200, back.text
        assert (await http.get("/api/user/logs", headers=auth)).status_code == 200
        assert await relay.deps.recorder.flush() >= queued  # and the call just answered
        assert relay.deps.recorder.pending == 0
        rows = await storage.db.usage.find({"user_id": user["_id"]}).to_list()
        assert [r["request_id"] for r in rows].count("req_stalled_flush") == 1  # once, though it timed out
        balance = (await storage.db.users.find_one({"_id": user["_id"]}))["balance"]
        assert balance == 100_000_000 - sum(r["cost"] for r in rows)  # every row charged exactly once


def test_timeouts_are_settings_with_a_clear_error():
    settings = Settings()
    assert client_options(settings) == {"timeoutMS": int(settings.db_timeout_relay * 1000)}
    for name in BOUNDS:
        with pytest.raises(SettingsError, match=name):
            Settings(**{name: 0})


def test_what_counts_as_the_database_being_away():
    from pymongo.errors import (
        DuplicateKeyError,
        ExecutionTimeout,
        NetworkTimeout,
        ServerSelectionTimeoutError,
    )

    assert database_unavailable(NetworkTimeout("timed out"))
    assert database_unavailable(ServerSelectionTimeoutError("no server"))
    assert database_unavailable(ExecutionTimeout("operation exceeded time limit", 50))
    assert not database_unavailable(DuplicateKeyError("E11000", 11000))
    assert not database_unavailable(ValueError("not a database error"))


async def test_a_stream_answered_while_the_database_stalls_is_whole_and_billed_once_it_is_back(stalled):
    """Past admission the relay needs no database to stream: the answer reaches the client whole,
    the bookkeeping after it times out, and the record (status 200, as the client saw it) waits
    in the queue until the database answers again."""
    relay, storage = stalled.relay, stalled.storage
    stalled.emu.state.patch("a1", {"delta_interval_ms": 50})
    user = await make_user(storage, balance=100_000_000)
    key = await make_key(storage, user["_id"], "claude")
    request = _anthropic(key)
    request["json"]["stream"] = True
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=20) as http:
        try:
            async with http.stream("POST", "/v1/messages", **request) as response:
                assert response.status_code == 200
                chunks = response.aiter_bytes()
                body = await anext(chunks)  # admitted, held and streaming: now the database stops
                stalled.pause()
                started = time.monotonic()
                async for chunk in chunks:
                    body += chunk
                took = time.monotonic() - started
            assert b"event: message_stop" in body and b"event: error" not in body
            assert took < BOUNDS["db_timeout_relay"] + SLACK, took  # never held by the database
            request_id = response.headers["x-jiuliu-request-id"]
            record = await relay.usage.wait_recorded(request_id, timeout=15)
            assert (record.status, record.outcome) == (200, "ok")
            with pytest.raises(ConnectionFailure):
                await relay.deps.recorder.flush()
            assert relay.deps.recorder.pending == 1
        finally:
            stalled.resume()
    assert await relay.deps.recorder.flush() == 1
    row = await storage.db.usage.find_one({"request_id": request_id})
    assert row["status"] == 200 and row["cost"] > 0
    balance = (await storage.db.users.find_one({"_id": user["_id"]}))["balance"]
    assert balance == 100_000_000 - row["cost"]
