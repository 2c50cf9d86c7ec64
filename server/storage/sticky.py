"""Session → account bindings shared by every relay process, collection ``sticky``::

    {_id: session hash, account_id, expires_at: epoch seconds}

Expiry is a plain number, which compares the same on MongoDB and nx-27017. The cache and the
renewal policy live in ``server.pools.sticky``; this reads and writes the rows."""

from __future__ import annotations

from typing import Any

from server.storage.db import Storage


class StickyRows:
    """Read, bind, count and purge session bindings."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def get(self, session: str) -> dict[str, Any] | None:
        """The binding row of ``session`` (expired or not), or None."""
        return await self.storage.collection("sticky").find_one({"_id": session})

    async def bind(self, session: str, account_id: str, expires_at: float) -> None:
        """Bind ``session`` to ``account_id``; an expiry never moves earlier (``$max``)."""
        await self.storage.collection("sticky").update_one(
            {"_id": session},
            {"$set": {"account_id": account_id}, "$max": {"expires_at": expires_at}},
            upsert=True)

    async def live_for(self, account_id: str, now: float) -> int:
        """How many unexpired sessions are bound to ``account_id``."""
        return await self.storage.count("sticky", {"account_id": account_id, "expires_at": {"$gt": now}})

    async def purge_expired(self, now: float) -> int:
        result = await self.storage.collection("sticky").delete_many({"expires_at": {"$lt": now}})
        return result.deleted_count
