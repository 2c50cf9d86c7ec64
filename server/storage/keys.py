"""The ``api_keys`` collection, the only code that reads or writes it (besides the per-key
running ``totals`` and ``last_used_at`` that ``ChargeService`` increments). Document::

    {_id: "key_…", user_id, name, key_hash: sha256 hex of the full key,
     prefix: "sk-XXXX…YYYY", group, rate_limit: int rpm (0 = unlimited),
     max_concurrency: int (0 = unlimited), expires_at: datetime | None,
     models: [glob, …] (empty = all), spend_quota: int micro (0 = none),
     status: "active" | "disabled", created_at, last_used_at,
     totals: {requests, cost, input, output, cache_write_5m, cache_write_1h, cache_read, reasoning}}

The full key is never stored. Every user-facing query is scoped by ``user_id`` so another
user's key looks exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

from server.storage.db import Storage
from server.storage.exact import exact

TOTAL_FIELDS = ("requests", "cost", "input", "output", "cache_write_5m", "cache_write_1h",
                "cache_read", "reasoning")
KEY_STATUSES = ("active", "disabled")


def empty_totals() -> dict[str, int]:
    """The running totals of a key that has not been used yet."""
    return {name: 0 for name in TOTAL_FIELDS}


class KeyStore:
    """Reads and writes API key documents."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def insert(self, doc: dict[str, Any]) -> None:
        """Store a new key document (built by ``KeyService.create``)."""
        await self.storage.collection("api_keys").insert_one(doc)

    async def get_by_hash(self, key_hash: str) -> dict[str, Any] | None:
        """The key whose full secret hashes to ``key_hash`` (the relay's lookup)."""
        return await self.storage.collection("api_keys").find_one({"key_hash": exact(key_hash)})

    async def get(self, key_id: str) -> dict[str, Any] | None:
        """Any user's key by id (operator API)."""
        return await self.storage.collection("api_keys").find_one({"_id": key_id})

    async def get_for_user(self, user_id: str, key_id: str) -> dict[str, Any] | None:
        """A key of this user, or None (also when it belongs to someone else)."""
        return await self.storage.collection("api_keys").find_one({"_id": key_id, "user_id": user_id})

    async def list_for_user(self, user_id: str) -> list[dict[str, Any]]:
        """A user's keys, newest first."""
        cursor = self.storage.collection("api_keys").find({"user_id": user_id}).sort("_id", -1)
        return [k async for k in cursor]

    async def count_for_user(self, user_id: str) -> int:
        """How many keys a user has (the per-user cap)."""
        return await self.storage.count("api_keys", {"user_id": user_id})

    async def set_status(self, user_id: str | None, key_id: str, status: str) -> dict[str, Any] | None:
        """Enable or disable a key of ``user_id`` (None: any user's, for operators)."""
        if status not in KEY_STATUSES:
            raise ValueError(f"unknown key status {status!r}")
        query: dict[str, Any] = {"_id": key_id}
        if user_id is not None:
            query["user_id"] = user_id
        return await self.storage.collection("api_keys").find_one_and_update(
            query, {"$set": {"status": status}}, return_document=ReturnDocument.AFTER)

    async def delete(self, user_id: str | None, key_id: str) -> bool:
        """Hard-delete a key of ``user_id`` (None: any user's); False if there was none."""
        query: dict[str, Any] = {"_id": key_id}
        if user_id is not None:
            query["user_id"] = user_id
        result = await self.storage.collection("api_keys").delete_one(query)
        return result.deleted_count == 1

    async def names(self, key_ids: list[str]) -> dict[str, str]:
        """Key id -> current name, for labelling aggregates."""
        if not key_ids:
            return {}
        cursor = self.storage.collection("api_keys").find({"_id": {"$in": key_ids}}, {"name": 1})
        return {k["_id"]: k.get("name", "") async for k in cursor}
