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

from server.clock import Clock, WallClock
from server.errors import RateLimited
from server.storage.db import Storage
from server.storage.rate_windows import RateWindowStore


class KeyLimits:
    """Admission control for one API key's rate and concurrency limits."""

    def __init__(self, storage: Storage, lease: float = 1800.0, clock: WallClock | None = None) -> None:
        self.windows = RateWindowStore(storage)
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
        count = await self.windows.count(key_id, minute, expires)
        previous = await self._closed_minute(key_id, minute - 1)
        elapsed = (now % 60) / 60
        estimate = count + previous * (1 - elapsed)
        if estimate > per_minute:
            await self.windows.uncount(key_id, minute)
            raise RateLimited(retry_after=_wait(count, previous, per_minute, now))

    async def _closed_minute(self, key_id: str, minute: int) -> int:
        cached = self._closed.get(key_id)
        if cached is not None and cached[0] == minute:
            return cached[1]
        count = await self.windows.minute_count(key_id, minute)
        if len(self._closed) >= 100_000:
            self._closed.clear()
        self._closed[key_id] = (minute, count)
        return self._closed[key_id][1]

    async def acquire(self, key_id: str, limit: int, request_id: str) -> str | None:
        """Take a concurrency slot; returns its id (release it), or raises RateLimited."""
        if limit <= 0:
            return None
        now = self.clock.now()
        expires = now + self.lease
        for slot in range(limit):
            slot_id = f"c:{key_id}:{slot}"
            if await self.windows.take_slot(slot_id, request_id, expires, now):
                return slot_id
        raise RateLimited("并发请求过多,请稍后再试", retry_after=1)

    async def release(self, slot_id: str | None, request_id: str) -> None:
        if slot_id:
            await self.windows.release_slot(slot_id, request_id)

    async def purge_expired(self) -> int:
        """Drop rate counters and concurrency slots past their expiry (a maintenance job)."""
        return await self.windows.purge(self.clock.now())


def _wait(current: int, previous: int, limit: int, now: float) -> float:
    """Seconds until the sliding estimate drops below the limit (at least 1)."""
    elapsed = (now % 60) / 60
    if current >= limit or previous == 0:
        return max(1.0, 60 - now % 60)
    # current + previous × (1 − e) < limit  ⇔  e > 1 − (limit − current) / previous
    needed = 1 - (limit - current) / previous
    return max(1.0, (needed - elapsed) * 60)
