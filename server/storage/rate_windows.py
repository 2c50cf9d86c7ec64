"""Rate-limit counters and concurrency slots of API keys (``server.relay.limits`` decides with
them): ``{_id: "r:<key>:<minute>", n, expires_at}`` per key and minute, and ``{_id:
"c:<key>:<slot>", request_id, expires_at}`` per slot taken. Single-document atomic updates;
expiry times are epoch seconds."""

from __future__ import annotations

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.storage.db import Storage


class RateWindowStore:
    """Counts requests per key and minute; hands out and takes back concurrency slots."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def count(self, key_id: str, minute: int, expires: float) -> int:
        """Count one request in the key's minute; returns the minute's count with it."""
        doc = await self.storage.db.rate_windows.find_one_and_update(
            {"_id": f"r:{key_id}:{minute}"}, {"$inc": {"n": 1}, "$set": {"expires_at": expires}},
            upsert=True, return_document=ReturnDocument.AFTER)
        assert doc is not None  # upserted
        return int(doc["n"])

    async def uncount(self, key_id: str, minute: int) -> None:
        """Take back a refused request's count."""
        await self.storage.db.rate_windows.update_one({"_id": f"r:{key_id}:{minute}"}, {"$inc": {"n": -1}})

    async def minute_count(self, key_id: str, minute: int) -> int:
        doc = await self.storage.db.rate_windows.find_one({"_id": f"r:{key_id}:{minute}"})
        return int(doc["n"]) if doc else 0

    async def take_slot(self, slot_id: str, request_id: str, expires: float, now: float) -> bool:
        """Take the slot if it is free, or if its holder's lease ran out (a crashed process)."""
        try:
            await self.storage.db.rate_windows.insert_one(
                {"_id": slot_id, "request_id": request_id, "expires_at": expires})
            return True
        except DuplicateKeyError:
            stale = await self.storage.db.rate_windows.find_one_and_update(
                {"_id": slot_id, "expires_at": {"$lt": now}},
                {"$set": {"request_id": request_id, "expires_at": expires}})
            return stale is not None

    async def release_slot(self, slot_id: str, request_id: str) -> None:
        await self.storage.db.rate_windows.delete_one({"_id": slot_id, "request_id": request_id})

    async def purge(self, now: float) -> int:
        """Drop counters and slots past their expiry (a maintenance job)."""
        result = await self.storage.db.rate_windows.delete_many({"expires_at": {"$lt": now}})
        return result.deleted_count
