"""Relay test helpers: users and keys in the real database, emulator accounts as upstreams."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from emulator import EmulatorAccount, start_emulator
from server.ids import new_id
from tests.client_fixtures import FIXTURES


async def make_user(storage, balance: int = 100_000_000, **fields: Any) -> dict[str, Any]:
    uid = new_id("usr")
    doc = {"_id": uid, "username": uid, "email": f"{uid}@example.test", "password_hash": "",
           "role": "user", "status": "active", "balance": balance, "token_version": 0,
           "created_at": dt.datetime.now(dt.timezone.utc), "ledger_marks": {}, **fields}
    await storage.db.users.insert_one(doc)
    return doc


async def make_key(storage, user_id: str, group: str = "claude", **fields: Any) -> str:
    secret = "sk-" + secrets.token_urlsafe(32)
    await storage.db.api_keys.insert_one({
        "_id": new_id("key"), "user_id": user_id, "name": "test", "group": group,
        "key_hash": hashlib.sha256(secret.encode()).hexdigest(), "prefix": secret[:7] + "…",
        "rate_limit": 0, "max_concurrency": 0, "expires_at": None, "models": [], "spend_quota": 0,
        "status": "active", "created_at": dt.datetime.now(dt.timezone.utc), "last_used_at": None,
        "totals": {}, **fields})
    return secret


async def start_pool_emulator(names: list[str]):
    return await start_emulator([EmulatorAccount(api_key=f"emu-key-{n}", name=n) for n in names])


async def add_upstreams(deps, emu, names: list[str], group: str, protocol: str, **fields: Any) -> list[dict]:
    docs = []
    for name in names:
        docs.append(await deps.upstreams.create({
            "name": name, "groups": [group], "protocol": protocol, "base_url": emu.base_url,
            "api_key": f"emu-key-{name}", **fields}))
    await deps.pools.reload()
    return docs


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def parse_sse(raw: bytes) -> list[tuple[str, Any]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = "", None
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:].strip())
        events.append((name, data))
    return events


async def flush_entry(relay, row: dict) -> dict:
    """The ledger entry that charged ``row`` (one per user per usage flush, issue 15), checked:
    applied, and carrying exactly the sum of the usage rows that name it (``row`` among them)."""
    entry = await relay.deps.storage.db.ledger.find_one({"_id": row["ledger_id"]})
    rows = relay.deps.storage.db.usage.find({"ledger_id": row["ledger_id"]})
    named = {r["_id"]: r["cost"] async for r in rows}
    assert entry is not None and entry["applied"] and row["_id"] in named
    assert entry["amount"] == -sum(named.values()) and entry["rows"] == len(named)
    return {**entry, "named": named}


async def settled(relay, *responses) -> None:
    """Every answered request recorded, then charged (and its hold settled)."""
    for r in responses:
        if "x-jiuliu-request-id" in r.headers:
            await relay.usage.wait_recorded(r.headers["x-jiuliu-request-id"])
    await relay.deps.recorder.flush()
