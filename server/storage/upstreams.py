"""Upstream accounts in the ``upstreams`` collection.

Document: ``{_id: "ups_…", name, groups: [..], protocol: "anthropic"|"openai", base_url,
api_key (write-only: never returned by any API, never logged), weight, priority, enabled,
models: [glob, …] (empty = all), model_map: {client model: upstream model}, max_concurrency
(0 = unlimited), notes, proxy ("" = the global ``upstream_proxy``, "direct", or a proxy URL whose
password is masked wherever shown), created_at, updated_at, state: {status: "healthy"|"cooling"|"disabled",
reason, cooldown_until: epoch seconds, since}}``. ``state`` is shared by every relay process.

``api_key`` and ``proxy`` are sealed at rest (``server.secret_box``): this store encrypts them on
the way in and decrypts them on the way out, so every caller sees the clear values in memory only."""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

from server.clock import Clock, WallClock
from server.ids import new_id
from server.proxy_urls import mask_proxy
from server.storage.db import Storage
from server.storage.exact import exact
from server.storage.ledger import utcnow

PROTOCOLS = ("anthropic", "openai")
HEALTHY: dict[str, Any] = {"status": "healthy", "reason": "", "cooldown_until": 0.0}


# Sealed at rest: the key, and a proxy URL (it may carry a password; "" and "direct" stay clear).
SEALED_FIELDS = ("api_key", "proxy")


def _secret(value: Any) -> bool:
    return isinstance(value, str) and value not in ("", "direct")


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An account as an API may show it: the key reduced to a masked suffix."""
    out = {k: v for k, v in doc.items() if k != "api_key"}
    key = doc.get("api_key") or ""
    out["api_key_masked"] = ("…" + key[-4:]) if len(key) >= 8 else "…"
    out["proxy"] = mask_proxy(str(doc.get("proxy") or ""))
    out["id"] = doc["_id"]
    return out


class UpstreamStore:
    """CRUD of upstream accounts and their shared health state."""

    def __init__(self, storage: Storage, clock: WallClock | None = None) -> None:
        self.storage = storage
        self.clock: WallClock = clock or Clock()  # health "since" times and cooldown expiry
        self.version = 0  # bumped on every local write so the pool reloads at once

    def _open_one(self, doc: dict[str, Any]) -> dict[str, Any]:
        opened = self._open(doc)
        assert opened is not None
        return opened

    def _open(self, doc: dict[str, Any] | None) -> dict[str, Any] | None:
        box = self.storage.box
        if doc is not None and box is not None:
            for name in SEALED_FIELDS:
                if isinstance(doc.get(name), str):
                    doc[name] = box.decrypt(doc[name])
        return doc

    def _seal(self, fields: dict[str, Any]) -> dict[str, Any]:
        box = self.storage.box
        if box is None:
            return fields
        sealed = {name: box.encrypt(fields[name]) for name in SEALED_FIELDS if _secret(fields.get(name))}
        return {**fields, **sealed} if sealed else fields

    async def list(self) -> list[dict[str, Any]]:
        rows = self.storage.collection("upstreams").find({}).sort("name", 1)
        return [self._open_one(d) async for d in rows]

    async def get(self, account_id: str) -> dict[str, Any] | None:
        return self._open(await self.storage.collection("upstreams").find_one({"_id": account_id}))

    async def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        now = utcnow()
        doc = {"_id": new_id("ups"), "weight": 1, "priority": 0, "enabled": True, "models": [],
               "model_map": {}, "max_concurrency": 0, "notes": "", "groups": [],
               **fields, "state": {**HEALTHY, "since": self.clock.now()},
               "created_at": now, "updated_at": now}
        await self.storage.collection("upstreams").insert_one(self._seal(doc))
        self.version += 1
        return doc

    async def update(self, account_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        doc = await self.storage.collection("upstreams").find_one_and_update(
            {"_id": account_id}, {"$set": {**self._seal(fields), "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER)
        self.version += 1
        return self._open(doc)

    async def reseal_keys(self) -> int:
        """Seal clear-text keys (written before encryption, or straight into the database) and
        keys sealed under an older secrets key; each change conditional on the value it read."""
        box = self.storage.box
        if box is None:
            return 0
        changed = 0
        async for doc in self.storage.collection("upstreams").find({}, {name: 1 for name in SEALED_FIELDS}):
            for name in SEALED_FIELDS:
                old = doc.get(name)
                if _secret(old) and box.needs_rotation(old):
                    result = await self.storage.collection("upstreams").update_one(
                        {"_id": doc["_id"], name: exact(old)}, {"$set": {name: box.reseal(old)}})
                    changed += result.modified_count
        if changed:
            self.version += 1
        return changed

    async def delete(self, account_id: str) -> bool:
        result = await self.storage.collection("upstreams").delete_one({"_id": account_id})
        self.version += 1
        return result.deleted_count == 1

    async def set_state(self, account_id: str, status: str, reason: str = "",
                        cooldown_until: float = 0.0, kind: str = "") -> None:
        """Record health for every process to see (``kind``: "transport" for a cooldown a
        transport error caused, which a successful probe may end early)."""
        await self.storage.collection("upstreams").update_one(
            {"_id": account_id},
            {"$set": {"state": {"status": status, "reason": reason[:500], "kind": kind,
                                "cooldown_until": cooldown_until, "since": self.clock.now()}}})
        self.version += 1

    async def end_cooldown(self, account_id: str, transport_early: bool = False) -> bool:
        """healthy again, only if it is still cooling and its cooldown has run out — or, with
        ``transport_early``, if a transport error caused it."""
        result = await self.storage.collection("upstreams").update_one(
            {"$and": [{"_id": account_id}, {"state.status": "cooling"},
                      {"state.cooldown_until": {"$lt": self.clock.now()}}]},
            {"$set": {"state": {**HEALTHY, "since": self.clock.now()}}})
        if result.modified_count == 0 and transport_early:
            result = await self.storage.collection("upstreams").update_one(
                {"$and": [{"_id": account_id}, {"state.status": "cooling"}, {"state.kind": "transport"}]},
                {"$set": {"state": {**HEALTHY, "since": self.clock.now()}}})
        self.version += 1
        return result.modified_count == 1
