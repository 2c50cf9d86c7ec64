"""The ``login_attempts`` collection: failed-login counters shared by every process, one
document per throttled subject (``acct:<email>`` or ``ip:<address>``)::

    {_id, failures: int, last_failure: epoch seconds, locked_until: epoch seconds}

Times are plain epoch floats rather than datetimes: nx-27017 turns datetimes written by update
operators into strings, and numbers compare the same on it and on MongoDB.
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

from server.storage.db import Storage


class LoginAttemptStore:
    """Counters of failed logins and the locks they earned."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The documents of these subjects that exist."""
        cursor = self.storage.login_attempts.find({"_id": {"$in": ids}})
        return {d["_id"]: d async for d in cursor}

    async def record_failure(self, subject: str, now: float, reset_after: float) -> int:
        """Count one failure (restarting the count after a quiet period); the new count."""
        await self.storage.login_attempts.update_one(
            {"_id": subject, "last_failure": {"$lt": now - reset_after}},
            {"$set": {"failures": 0, "locked_until": 0.0}})
        doc = await self.storage.login_attempts.find_one_and_update(
            {"_id": subject}, {"$inc": {"failures": 1}, "$set": {"last_failure": now}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return int(doc.get("failures", 1))

    async def lock_until(self, subject: str, until: float) -> None:
        """Extend the subject's lock to ``until`` (never shortens a longer one)."""
        await self.storage.login_attempts.update_one({"_id": subject}, {"$max": {"locked_until": until}})

    async def clear(self, subject: str) -> None:
        """Forget a subject's failures (after a successful login)."""
        await self.storage.login_attempts.delete_one({"_id": subject})

    async def prune(self, older_than: float) -> int:
        """Forget subjects whose last failure is older than ``older_than`` (epoch seconds)."""
        result = await self.storage.login_attempts.delete_many({"last_failure": {"$lt": older_than}})
        return result.deleted_count
