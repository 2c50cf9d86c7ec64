"""Limits that hold under load (issue 14): measured against a real relay process.

    .venv/bin/python bench/limits.py            # about a minute

Starts the embedded database, the emulator and ``jiuliu serve`` (default settings) as separate
processes, seeds users and keys straight into the database, then measures:

* F3 — 20 connections each declaring and sending a 30 MiB body to the login route: the relay's
  peak RSS against its idle RSS, and how long the flood lasts;
* F2 — both claude accounts capped at 2 concurrent requests, one user opens 4 streams and never
  reads them: what the hog gets, and how 50 calls of two other users fare meanwhile;
* F5 — 50 concurrent streams from a $0.01 balance: the final balance against one estimate;
* F4 — a $0.05 spend quota under 160 calls in waves of 20: the final spend against the quota.

Prints one JSON object (the README quotes it)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
import socket
import statistics
from collections import Counter
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench import procs  # noqa: E402
from bench.seeding import EMU_ACCOUNTS, FAST, seed, set_knobs  # noqa: E402
from server.embedded_db import EmbeddedMongo  # noqa: E402
from server.storage.db import Storage  # noqa: E402

MIB = 1024 * 1024
STREAM = {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True,
          "messages": [{"role": "user", "content": "hi"}]}
SMALL = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


async def add_user(storage: Storage, balance: int, **key_fields) -> tuple[str, str]:
    uid = "usr_" + secrets.token_hex(6)
    now = dt.datetime.now(dt.timezone.utc)
    await storage.db.users.insert_one({"_id": uid, "username": uid, "email": f"{uid}@bench.test", "password_hash": "",
                                    "role": "user", "status": "active", "balance": balance, "token_version": 0,
                                    "created_at": now, "ledger_marks": {}})
    secret = "sk-" + secrets.token_urlsafe(32)
    await storage.db.api_keys.insert_one({
        "_id": "key_" + secrets.token_hex(6), "user_id": uid, "name": "limits", "group": "claude",
        "key_hash": hashlib.sha256(secret.encode()).hexdigest(), "prefix": secret[:7], "rate_limit": 0,
        "max_concurrency": 0, "expires_at": None, "models": [], "spend_quota": 0, "status": "active",
        "created_at": now, "last_used_at": None, "totals": {}, **key_fields})
    return uid, secret


async def body_flood(port: int, relay: procs.Proc) -> dict:
    """20 connections × 30 MiB to the login route; peak RSS while they send."""
    idle = relay.rss()
    peak = idle
    chunk = b"x" * MIB

    async def one() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/user/login HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (30 * MIB))
        sent = 0
        try:
            for _ in range(30):
                writer.write(chunk)
                await writer.drain()
                sent += MIB
        except (ConnectionError, OSError):
            pass
        writer.close()
        return sent

    async def sample(stop: asyncio.Event) -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, relay.rss())
            await asyncio.sleep(0.05)

    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(stop))
    started = time.perf_counter()
    sent = await asyncio.gather(*[one() for _ in range(20)])
    took = time.perf_counter() - started
    await asyncio.sleep(0.5)
    stop.set()
    await sampler
    return {"rss_idle_mb": idle, "rss_peak_mb": peak, "seconds": round(took, 2),
            "accepted_mib_per_connection": round(statistics.mean(sent) / MIB, 2)}


async def unread_stream(port: int, key: str, body: dict) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    raw = json.dumps(body).encode()
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nx-api-key: %b\r\n"
                 b"Content-Length: %d\r\n\r\n%b" % (key.encode(), len(raw), raw))
    await writer.drain()
    return reader, writer


async def settle_pool(port: int) -> None:
    """Let the relay see an account edit made in the database (it re-reads them every 2 s,
    in the background of a call)."""
    _, key = await add_user_cached()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        for _ in range(2):
            await asyncio.sleep(2.2)
            await http.post("/v1/messages", json=SMALL, headers={"x-api-key": key})


_WARM: list[tuple[str, str]] = []


async def add_user_cached() -> tuple[str, str]:
    return _WARM[0]


async def fair_share(port: int, emu_port: int, storage: Storage) -> dict:
    await storage.db.upstreams.update_many({"groups": "claude"}, {"$set": {"max_concurrency": 2}})
    await settle_pool(port)
    set_knobs(emu_port, output_tokens=3000, delta_interval_ms=20)  # ~60 s answers
    _, hog = await add_user(storage, 10**12)
    others = [(await add_user(storage, 10**12))[1] for _ in range(2)]
    streams = [await unread_stream(port, hog, {**STREAM, "max_tokens": 4000}) for _ in range(4)]
    statuses = []
    for reader, _ in streams:
        line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 30)
        statuses.append(int(line.split()[1]))
    set_knobs(emu_port, **FAST)
    codes, latencies = [], []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        for i in range(25):
            for key in others:
                t = time.perf_counter()
                r = await http.post("/v1/messages", json=SMALL, headers={"x-api-key": key})
                latencies.append((time.perf_counter() - t) * 1000)
                codes.append(r.status_code)
    for _, writer in streams:
        writer.close()
    await storage.db.upstreams.update_many({"groups": "claude"}, {"$set": {"max_concurrency": 0}})
    await settle_pool(port)
    return {"hog_statuses": sorted(statuses), "others_ok": codes.count(200), "others_total": len(codes),
            "others_p50_ms": round(statistics.median(latencies), 1)}


async def money(port: int, emu_port: int, storage: Storage) -> dict:
    set_knobs(emu_port, output_tokens=64, delta_interval_ms=2)
    uid, key = await add_user(storage, 10_000)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        rs = await asyncio.gather(*[http.post("/v1/messages", json={**STREAM, "messages": [
            {"role": "user", "content": f"turn {i}"}]}, headers={"x-api-key": key}) for i in range(50)])
        await asyncio.sleep(1.5)  # usage flushes every 0.5 s
        balance = (await storage.db.users.find_one({"_id": uid}))["balance"]
        quota_uid, quota_key = await add_user(storage, 10**12, spend_quota=50_000)
        codes = []
        for wave in range(8):
            batch = await asyncio.gather(*[http.post("/v1/messages", json={**STREAM, "messages": [
                {"role": "user", "content": f"w{wave} {i}"}]}, headers={"x-api-key": quota_key}) for i in range(20)])
            codes += [r.status_code for r in batch]
        await asyncio.sleep(1.5)
    key_doc = await storage.db.api_keys.find_one({"user_id": quota_uid})
    costs = [row["cost"] async for row in storage.db.usage.find({"key_id": key_doc["_id"]})]
    set_knobs(emu_port, **FAST)
    return {"f5_statuses": dict(Counter(r.status_code for r in rs)), "f4_statuses": dict(Counter(codes)),
            "f5_final_balance_micro": balance,
            "f4_spent_micro": (key_doc.get("totals") or {}).get("cost", 0),
            "f4_quota_micro": 50_000, "f4_largest_request_micro": max(costs) if costs else 0}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="jiuliu-limits-"))
    db = EmbeddedMongo(tmp / "db")
    running: list[procs.Proc] = []
    try:
        asyncio.run(db.start())
        py = sys.executable
        emu, emu_port = procs.start_emulator(tmp)
        running.append(emu)
        asyncio.run(seed(db.url, "limits", f"http://127.0.0.1:{emu_port}"))
        env = procs.relay_env(db.url, "limits", tmp)
        port = procs.free_port()
        relay = procs.start("relay", [py, "-m", "server.cli", "serve", "--port", str(port)], port, tmp, env=env)
        running.append(relay)
        procs.wait_port(relay)
        set_knobs(emu_port, **FAST)

        async def run(stage: str) -> dict:
            storage = Storage.connect(db.url, "limits")
            try:
                if not _WARM:
                    _WARM.append(await add_user(storage, 10**12))
                if stage == "defaults":
                    return {"f3": await body_flood(port, relay), "f2": await fair_share(port, emu_port, storage)}
                return {"money": await money(money_port, emu_port, storage)}
            finally:
                await storage.close()

        out = asyncio.run(run("defaults"))
        # Money with a share wide enough that only the holds limit what one user runs at once.
        money_port = procs.free_port()
        wide = procs.start("relay-wide", [py, "-m", "server.cli", "serve", "--port", str(money_port)], money_port,
                           tmp, env={**env, "JIULIU_USER_MAX_CONCURRENCY": "1000"})
        running.append(wide)
        procs.wait_port(wide)
        out.update(asyncio.run(run("money")))
        print(json.dumps(out, indent=1))
    finally:
        for proc in reversed(running):
            procs.stop(proc)
        db.stop()


if __name__ == "__main__":
    assert EMU_ACCOUNTS
    main()
