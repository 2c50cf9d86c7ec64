"""Job leases in the ``leases`` collection: ``{_id: job name, owner, expires_at: epoch seconds}``.

A process may run a job only while it holds the job's lease. Taking it is one conditional
single-document update (``expires_at < now`` or ``owner == me``), or, when the document does not
exist yet, one insert that a concurrent insert beats on the unique ``_id``. The lease is kept
for the job's interval after the run, so with several processes firing on the same schedule
the job runs once per interval. Expiry times are epoch floats (plain numbers compare the same
on every MongoDB-wire server)."""

from __future__ import annotations

import time
from typing import Callable

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.storage.db import Storage


class LeaseStore:
    """Acquire, renew and release named leases."""

    def __init__(self, storage: Storage, owner: str, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.owner = owner
        self._now = clock

    async def acquire(self, name: str, ttl: float) -> bool:
        """True if this process now holds ``name`` for ``ttl`` seconds."""
        now = self._now()
        doc = await self.storage.collection("leases").find_one_and_update(
            {"$and": [{"_id": name}, {"$or": [{"expires_at": {"$lt": now}}, {"owner": self.owner}]}]},
            {"$set": {"owner": self.owner, "expires_at": now + ttl, "acquired_at": now}},
            return_document=ReturnDocument.AFTER)
        if doc is not None:
            return doc.get("owner") == self.owner
        try:
            await self.storage.collection("leases").insert_one(
                {"_id": name, "owner": self.owner, "expires_at": now + ttl, "acquired_at": now})
        except DuplicateKeyError:
            return False  # someone else holds it (or inserted it a moment before us)
        return True

    async def release(self, name: str) -> None:
        """Give a lease back early (only if we still hold it)."""
        await self.storage.collection("leases").update_one(
            {"_id": name, "owner": self.owner}, {"$set": {"expires_at": 0.0}})

    async def holder(self, name: str) -> str | None:
        """Who holds ``name`` now, if anyone."""
        doc = await self.storage.collection("leases").find_one({"_id": name})
        if doc is None or float(doc.get("expires_at") or 0) < self._now():
            return None
        return doc.get("owner")
