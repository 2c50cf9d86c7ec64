"""Stops and crashes that lose nothing, with the real process (``jiuliu serve --demo``):

- ``kill -9`` right after a burst of answered calls: nothing was flushed yet (the flush interval
  is an hour), the local journal has every call, and the next start bills each exactly once;
- Docker's sequence: SIGTERM while a stream is still running, usage flushed while draining,
  then SIGKILL at the stop timeout: every answered call billed exactly once after the restart.

Charges are counted in the database after the restart: usage rows, ledger charges and the
demo user's balance against the sum of its ledger."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

import httpx
import orjson

from server.demo import USER_EMAIL
from server.embedded_db import free_port
from server.storage.db import Storage
from server.storage.ledger import LedgerStore
from tests.conftest import TEST_SECRETS_KEY

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}


class Relay:
    """One ``jiuliu serve --demo`` process on a data directory and database of the test's own."""

    def __init__(self, tmp_path, mongo_url: str, db_name: str, **env: str) -> None:
        self.tmp_path, self.port = tmp_path, free_port()
        self.env = {**os.environ, "JIULIU_DATA_DIR": str(tmp_path / "data"), "MONGO_URL": mongo_url,
                    "JIULIU_DB_NAME": db_name, "JIULIU_BCRYPT_ROUNDS": "4", "JIULIU_LOG_FORMAT": "json",
                    "JIULIU_LOG_LEVEL": "info",
                    # nx-27017 shares collections between database names: the session's key (README).
                    "JIULIU_SECRETS_KEY": TEST_SECRETS_KEY.decode(), **env}
        self.proc: asyncio.subprocess.Process | None = None
        self.banner: dict[str, str] = {}
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.runs += 1
        self.banner = {}
        fd = os.open(self.tmp_path / f"relay-{self.runs}.log", os.O_WRONLY | os.O_CREAT)  # a file: never a full pipe
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "server.cli", "serve", "--demo", "--port", str(self.port),
                stdout=asyncio.subprocess.PIPE, stderr=fd, env=self.env)
        finally:
            os.close(fd)
        while "codex key" not in self.banner:  # the banner is printed once everything is up
            line = (await asyncio.wait_for(self.proc.stdout.readline(), 90)).decode()
            assert line, self.log()
            name, _, value = line.strip().partition(":")
            self.banner[name.strip()] = value.strip()
        self._drain_stdout = asyncio.ensure_future(self.proc.stdout.read())

    def log(self, run: int | None = None) -> str:
        return (self.tmp_path / f"relay-{run or self.runs}.log").read_text(errors="replace")

    def key(self) -> str:
        return self.banner["claude key"]

    def emulator(self) -> str:
        return self.banner["Demo mode"].split("emulator upstreams at ")[1].split()[0]

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await self._drain_stdout
        return code


async def _burst(relay: Relay, n: int) -> list[str]:
    """``n`` calls, six at a time (the demo user's fair share of the pool is eight); the request
    ids of those answered in full."""
    places = asyncio.Semaphore(6)
    async with httpx.AsyncClient(base_url=relay.url, timeout=60) as http:
        async def one(i: int) -> str | None:
            body = {**MSG, "messages": [{"role": "user", "content": f"call {i}"}]}
            async with places:
                r = await http.post("/v1/messages", json=body, headers={"x-api-key": relay.key()})
            return r.headers["x-jiuliu-request-id"] if r.status_code == 200 and r.json().get("usage") else None
        ids = await asyncio.gather(*(one(i) for i in range(n)))
    answered = [i for i in ids if i]
    assert len(answered) == n, f"{len(answered)} of {n} answered"
    return answered


async def _clean_up(relay: "Relay", storage: Storage) -> None:
    """Whatever a test left running is killed, and its database dropped."""
    if relay.proc is not None and relay.proc.returncode is None:
        relay.proc.kill()
        await relay.proc.wait()
    await storage.drop()
    await storage.close()


async def _billed(storage: Storage, ids: list[str]) -> tuple[int, int]:
    """(usage rows, requests charged): a request is charged when its row names an applied flush
    entry (issue 15: one entry per user per flush, carrying the sum of the rows naming it)."""
    rows = [r async for r in storage.db.usage.find({"request_id": {"$in": ids}}, {"ledger_id": 1})]
    names = list({r["ledger_id"] for r in rows if r.get("ledger_id")})
    applied = {e["_id"] async for e in storage.db.ledger.find(
        {"$and": [{"_id": {"$in": names}}, {"applied": True}, {"type": "charge"}]}, {"_id": 1})}
    return len(rows), sum(1 for r in rows if r.get("ledger_id") in applied)


async def _reconciled(storage: Storage) -> None:
    user = await storage.db.users.find_one({"email": USER_EMAIL})
    balance, total = await LedgerStore(storage).balance_and_sum(user["_id"])
    assert balance == total


async def test_kill_9_after_a_burst_loses_no_charge(tmp_path, embedded_db):
    db_name = "t_crash_" + uuid.uuid4().hex[:6]
    storage = Storage.connect(embedded_db.url, db_name)
    relay = Relay(tmp_path, embedded_db.url, db_name, JIULIU_USAGE_FLUSH_INTERVAL="3600")
    try:
        await relay.start()
        ids = await _burst(relay, 80)
        relay.proc.kill()  # kill -9: no drain, no flush
        prefix = relay.key()[:7]
        assert await relay.wait(30) == -signal.SIGKILL
        journal = tmp_path / "data" / "usage-journal-0.jsonl"
        journaled = {orjson.loads(line)["doc"]["request_id"] for line in journal.read_bytes().splitlines()}
        assert set(ids) <= journaled
        rows, _ = await _billed(storage, ids)
        assert rows < len(ids)  # without the journal these would be lost
        saved = journal.read_bytes()

        relay.env["JIULIU_USAGE_FLUSH_INTERVAL"] = "0.5"
        await relay.start()  # replays the journal before serving
        assert await _billed(storage, ids) == (len(ids), len(ids))
        left = {orjson.loads(line)["doc"]["request_id"] for line in journal.read_bytes().splitlines()}
        assert not left & set(ids)  # what the database has is not kept (the demo's new first call may be)
        access = [orjson.loads(line) for line in relay.log(1).splitlines() if '"jiuliu.access"' in line]
        logged = {a["request_id"]: a for a in access}
        assert set(ids) <= set(logged) and all(logged[i]["status"] == 200 for i in ids)
        assert all(logged[i]["key"].startswith(prefix) for i in ids)
        assert "replaying" in relay.log()

        relay.proc.kill()  # the same journal replayed again: still each call once
        await relay.wait(30)
        journal.write_bytes(saved)
        await relay.start()
        assert await _billed(storage, ids) == (len(ids), len(ids))
        await _reconciled(storage)
        relay.proc.send_signal(signal.SIGTERM)
        assert await relay.wait(30) == 0
    finally:
        await _clean_up(relay, storage)


async def test_sigterm_then_sigkill_at_the_stop_timeout_loses_no_charge(tmp_path, embedded_db):
    db_name = "t_stop_" + uuid.uuid4().hex[:6]
    storage = Storage.connect(embedded_db.url, db_name)
    # A drain longer than the stop timeout, and no timed flush: only the drain's flush writes.
    relay = Relay(tmp_path, embedded_db.url, db_name, JIULIU_USAGE_FLUSH_INTERVAL="3600",
                  JIULIU_SHUTDOWN_GRACE="60")
    try:
        await relay.start()
        ids = await _burst(relay, 40)
        assert await _billed(storage, ids) == (0, 0)  # no timed flush: only the drain can write them
        async with httpx.AsyncClient(timeout=10) as http:
            for account in (await http.get(relay.emulator() + "/_emulator/accounts")).json()["accounts"]:
                r = await http.patch(f"{relay.emulator()}/_emulator/accounts/{account['name']}",
                                     json={"delta_interval_ms": 200, "output_tokens": 400})  # the next stream: 80 s
                assert r.status_code == 200, r.text
        async with httpx.AsyncClient(base_url=relay.url, timeout=60) as http, \
                http.stream("POST", "/v1/messages", json={**MSG, "stream": True},
                            headers={"x-api-key": relay.key()}) as stream:
            await stream.aiter_bytes().__anext__()  # a long stream is in flight
            relay.proc.send_signal(signal.SIGTERM)  # docker stop
            for _ in range(300):  # the drain flushes while the stream still runs
                if (await _billed(storage, ids))[0] == len(ids):
                    break
                await asyncio.sleep(0.05)
            assert await _billed(storage, ids) == (len(ids), len(ids))
            assert relay.proc.returncode is None  # still draining: Docker's timeout is not up
            relay.proc.kill()  # the stop timeout: SIGKILL
            assert await relay.wait(30) == -signal.SIGKILL
        await relay.start()
        assert await _billed(storage, ids) == (len(ids), len(ids))
        await _reconciled(storage)
        relay.proc.send_signal(signal.SIGTERM)
        assert await relay.wait(30) == 0
    finally:
        await _clean_up(relay, storage)
