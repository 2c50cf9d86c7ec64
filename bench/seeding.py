"""Database seeding straight into the relay's database, and emulator knobs."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import time
import urllib.request

from server.accounts.passwords import PasswordHasher
from server.billing.charges import UsageRecord, usage_doc
from server.pricing.pricing import PriceRule
from server.pricing.usage import Usage
from server.storage.db import Storage
from server.storage.prices import PriceStore
from server.storage.rollups import RollupStore

USER_ID = "usr_bench"
USER_EMAIL = "bench@example.com"
USER_PASSWORD = "bench-password-123"
EMU_ACCOUNTS = [("emu-anthropic-1", "anthropic", "claude"), ("emu-anthropic-2", "anthropic", "claude"),
                ("emu-openai-1", "openai", "codex"), ("emu-openai-2", "openai", "codex")]
FAST = {"latency_ms": 0, "ttft_ms": 0, "delta_interval_ms": 0, "output_tokens": 12}


async def seed(url: str, db_name: str, emu_url: str) -> dict[str, str]:
    """A user (bcrypt password, large balance), one key per group, the emulator accounts as upstreams."""
    storage = Storage.connect(url, db_name)
    await storage.ensure_indexes()
    await PriceStore(storage).seed_if_empty()
    now = dt.datetime.now(dt.timezone.utc)
    password_hash = await PasswordHasher(4).hash(USER_PASSWORD)
    await storage.db.users.insert_one({"_id": USER_ID, "username": "bench", "email": USER_EMAIL,
                                    "password_hash": password_hash, "role": "user", "status": "active",
                                    "balance": 10**14, "token_version": 0, "created_at": now, "ledger_marks": {}})
    for name, protocol in (("claude", "anthropic"), ("codex", "openai")):
        await storage.db.groups.update_one({"_id": name}, {"$setOnInsert": {
            "name": name, "protocol": protocol, "multiplier_ppm": 1_000_000, "description": "", "created_at": now}},
            upsert=True)
    # The operator of a benchmark lets keys without a limit of their own run unlimited.
    await storage.db.settings.update_one({"_id": "runtime"}, {"$set": {"default_rate_limit": 0}}, upsert=True)
    keys = {}
    for group in ("claude", "codex"):
        secret = f"sk-bench-{group}-" + "x" * 32
        keys[group] = secret
        await storage.db.api_keys.insert_one({
            "_id": f"key_bench_{group}", "user_id": USER_ID, "name": group, "group": group,
            "key_hash": hashlib.sha256(secret.encode()).hexdigest(), "prefix": secret[:8],
            "rate_limit": 0, "max_concurrency": 0, "expires_at": None, "models": [], "spend_quota": 0,
            "status": "active", "created_at": now, "last_used_at": None, "totals": {}})
    for i, (name, protocol, group) in enumerate(EMU_ACCOUNTS):
        await storage.db.upstreams.insert_one({
            "_id": f"ups_bench_{i}", "name": name, "groups": [group], "protocol": protocol,
            "base_url": emu_url, "api_key": name, "weight": 1, "priority": 0, "enabled": True,
            "models": [], "model_map": {}, "max_concurrency": 0, "notes": "",
            "state": {"status": "healthy", "reason": "", "cooldown_until": 0.0, "since": time.time()},
            "created_at": now, "updated_at": now})
    await storage.close()
    return keys


async def seed_usage(url: str, db_name: str, count: int, batch: int = 10_000, start: int = 0,
                     spread: int = 1_000_000) -> dict:
    """``count`` usage rows of the bench user shaped by ``usage_doc``, newest spread over 30 days,
    written with insert_many in batches (two in flight), ids from ``start`` on. Returns count,
    seconds and rows/s."""
    # A patient client: right after heavy relay load the embedded database can be seconds behind.
    storage = Storage.connect(url, db_name, serverSelectionTimeoutMS=60_000, socketTimeoutMS=120_000)
    rule = PriceRule.build("claude-sonnet-4-5*", 3_000_000, 15_000_000)
    now = dt.datetime.now(dt.timezone.utc)
    record = UsageRecord(request_id="req_template", user_id=USER_ID, key_id="key_bench_claude", group="claude",
                         model="claude-sonnet-4-5", usage=Usage(input=1200, output=350, cache_read=40_000),
                         rule=rule, endpoint="/v1/messages", stream=True, latency_ms=1800, ttft_ms=420,
                         account_id="ups_bench_0", account_name="emu-anthropic-1",
                         upstream_model="claude-sonnet-4-5", client_ip="127.0.0.1",
                         user_agent="claude-cli/2.1.332 (external, cli)", key_name="claude", ts=now)
    template = usage_doc(record, record.cost())
    step = dt.timedelta(seconds=30 * 86400 / spread)
    sem = asyncio.Semaphore(2)
    rollups = RollupStore(storage)

    async def write(first: int) -> None:
        docs = []
        for i in range(first, min(start + count, first + batch)):
            rid = f"req_seed_{i:08d}"
            doc = dict(template)
            doc["_id"] = doc["request_id"] = rid
            doc["ts"] = now - step * (i + 1)
            doc["ledger_id"] = "chg_" + rid
            doc["latency_ms"] = 500 + i % 5000
            docs.append(doc)
        async with sem:
            await storage.db.usage.insert_many(docs, ordered=False)
            await rollups.add(docs)  # as the relay's own flushes do: totals come from roll-ups

    t0 = time.perf_counter()
    await asyncio.gather(*(write(s) for s in range(start, start + count, batch)))
    seconds = time.perf_counter() - t0
    await storage.close()
    return {"count": count, "seconds": round(seconds, 1), "rows_per_s": round(count / max(seconds, 1e-9))}


def set_knobs(emu_port: int, **knobs) -> None:
    """PATCH every emulator account (the relay may pick any of a group's accounts)."""
    for name, _, _ in EMU_ACCOUNTS:
        req = urllib.request.Request(f"http://127.0.0.1:{emu_port}/_emulator/accounts/{name}",
                                     data=json.dumps(knobs).encode(), method="PATCH",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()


def http_json(method: str, url: str, body: dict | None = None, headers: dict | None = None,
              timeout: float = 30) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 method=method, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read()[:500].decode(errors="replace")}
