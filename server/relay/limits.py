"""Per-key rate and concurrency limits, shared by every relay process through the database.

Rate (requests per minute): a sliding window approximated from two fixed one-minute counters,
``count(now) + count(previous) × (1 − elapsed fraction)``; one atomic ``$inc`` upsert per request
(the closed minute's count is read once per key and minute).
Accuracy: exact counts across processes; the sliding estimate assumes requests were evenly
spread over the previous minute, so bursts at a minute edge may let through up to ~1 extra
request per limit unit in the worst case (the usual trade-off of this scheme).

Concurrency: ``max_concurrency`` numbered slot documents per key; a request takes a free slot
by inserting it (unique ``_id``) and deletes it when done. A crashed process's slots expire
after ``lease`` seconds. Expiry times are epoch seconds (numbers compare alike everywhere)."""

from __future__ import annotations

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.clock import Clock, WallClock
from server.errors import RateLimited
from server.storage.db import Storage


class KeyLimits:
    """Admission control for one API key's rate and concurrency limits."""

    def __init__(self, storage: Storage, lease: float = 1800.0, clock: WallClock | None = None) -> None:
        self.storage = storage
        self.clock: WallClock = clock or Clock()
        self.lease = lease
        # key id -> (minute, count) of a closed minute: read once per key and minute, not per request.
        self._closed: dict[str, tuple[int, int]] = {}

    async def check_rate(self, key_id: str, per_minute: int) -> None:
        """Count this request; raise RateLimited (with retry-after) if over the limit."""
        if per_minute <= 0:
            return
        now = self.clock.now()
        minute = int(now // 60)
        expires = float((minute + 2) * 60)
        doc = await self.storage.rate_windows.find_one_and_update(
            {"_id": f"r:{key_id}:{minute}"}, {"$inc": {"n": 1}, "$set": {"expires_at": expires}},
            upsert=True, return_document=ReturnDocument.AFTER)
        assert doc is not None  # upserted
        previous = await self._closed_minute(key_id, minute - 1)
        elapsed = (now % 60) / 60
        estimate = doc["n"] + previous * (1 - elapsed)
        if estimate > per_minute:
            await self.storage.rate_windows.update_one({"_id": f"r:{key_id}:{minute}"}, {"$inc": {"n": -1}})
            raise RateLimited(retry_after=_wait(doc["n"], previous, per_minute, now))

    async def _closed_minute(self, key_id: str, minute: int) -> int:
        cached = self._closed.get(key_id)
        if cached is not None and cached[0] == minute:
            return cached[1]
        doc = await self.storage.rate_windows.find_one({"_id": f"r:{key_id}:{minute}"})
        if len(self._closed) >= 100_000:
            self._closed.clear()
        self._closed[key_id] = (minute, doc["n"] if doc else 0)
        return self._closed[key_id][1]

    async def acquire(self, key_id: str, limit: int, request_id: str) -> str | None:
        """Take a concurrency slot; returns its id (release it), or raises RateLimited."""
        if limit <= 0:
            return None
        now = self.clock.now()
        expires = now + self.lease
        for slot in range(limit):
            slot_id = f"c:{key_id}:{slot}"
            try:
                await self.storage.rate_windows.insert_one(
                    {"_id": slot_id, "request_id": request_id, "expires_at": expires})
                return slot_id
            except DuplicateKeyError:
                # Reclaim a slot whose holder died without releasing it.
                stale = await self.storage.rate_windows.find_one_and_update(
                    {"_id": slot_id, "expires_at": {"$lt": now}},
                    {"$set": {"request_id": request_id, "expires_at": expires}})
                if stale is not None:
                    return slot_id
        raise RateLimited("并发请求过多,请稍后再试", retry_after=1)

    async def release(self, slot_id: str | None, request_id: str) -> None:
        if slot_id:
            await self.storage.rate_windows.delete_one({"_id": slot_id, "request_id": request_id})

    async def purge_expired(self) -> int:
        """Drop rate counters and concurrency slots past their expiry (a maintenance job)."""
        result = await self.storage.rate_windows.delete_many({"expires_at": {"$lt": self.clock.now()}})
        return result.deleted_count


def _wait(current: int, previous: int, limit: int, now: float) -> float:
    """Seconds until the sliding estimate drops below the limit (at least 1)."""
    elapsed = (now % 60) / 60
    if current >= limit or previous == 0:
        return max(1.0, 60 - now % 60)
    # current + previous × (1 − e) < limit  ⇔  e > 1 − (limit − current) / previous
    needed = 1 - (limit - current) / previous
    return max(1.0, (needed - elapsed) * 60)
