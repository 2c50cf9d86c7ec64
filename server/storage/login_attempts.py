"""The ``login_attempts`` collection: login counters shared by every process, one document per
throttled subject (``acct:<email>`` or ``ip:<address>``)::

    {_id, failures: int, last_failure: epoch seconds, locked_until: epoch seconds, hold: str|None}

``failures`` counts attempts *admitted* to a password check (a success gives its count back).
Admission is one conditional ``find_one_and_update`` per subject, so counting and checking are
a single atomic step: of N parallel attempts exactly as many are admitted as the policy allows,
and the attempt that takes the last free slot sets a lock (``hold``) in the same update, so the
others are refused before any of them reaches bcrypt.

Times are plain epoch floats rather than datetimes: nx-27017 turns datetimes written by update
operators into strings, and numbers compare the same on it and on MongoDB.
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.storage.db import Storage


class LoginAttemptStore:
    """Counters of login attempts and the locks they earned."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def get(self, subject: str) -> dict[str, Any] | None:
        """The subject's document, if any."""
        return await self.storage.collection("login_attempts").find_one({"_id": subject})

    async def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The documents of these subjects that exist."""
        cursor = self.storage.collection("login_attempts").find({"_id": {"$in": ids}})
        return {d["_id"]: d async for d in cursor}

    async def prepare(self, subject: str, now: float, reset_after: float) -> None:
        """Make sure the subject's document exists, and forgive its count after a quiet period."""
        try:
            await self.storage.collection("login_attempts").update_one(
                {"_id": subject},
                {"$setOnInsert": {"failures": 0, "locked_until": 0.0, "last_failure": now, "hold": None}},
                upsert=True)
        except DuplicateKeyError:  # a parallel attempt inserted it first
            pass
        await self.storage.collection("login_attempts").update_one(
            {"_id": subject, "last_failure": {"$lt": now - reset_after}, "locked_until": {"$lte": now}},
            {"$set": {"failures": 0, "locked_until": 0.0, "hold": None}})

    async def admit(self, subject: str, now: float, free: int, hold: str,
                    hold_until: float) -> int | None:
        """Take one attempt if the subject is not locked: its number, or None when locked.

        Below ``free - 1`` admitted attempts the count just grows; the attempt that reaches
        ``free`` (or any later one, once an earlier lock ran out) also locks the subject until
        ``hold_until`` under the tag ``hold``, atomically, so parallel attempts see the lock."""
        common = {"$inc": {"failures": 1}}
        doc = await self.storage.collection("login_attempts").find_one_and_update(
            {"_id": subject, "failures": {"$lt": free - 1}, "locked_until": {"$lte": now}},
            {**common, "$set": {"last_failure": now}}, return_document=ReturnDocument.AFTER)
        if doc is None:
            doc = await self.storage.collection("login_attempts").find_one_and_update(
                {"_id": subject, "failures": {"$gte": free - 1}, "locked_until": {"$lte": now}},
                {**common, "$set": {"last_failure": now, "locked_until": hold_until, "hold": hold}},
                return_document=ReturnDocument.AFTER)
        return None if doc is None else int(doc.get("failures") or 0)

    async def settle_hold(self, subject: str, hold: str, locked_until: float, now: float) -> None:
        """Replace this attempt's provisional lock by the one its outcome earned."""
        await self.storage.collection("login_attempts").update_one(
            {"_id": subject, "hold": hold},
            {"$set": {"locked_until": locked_until, "hold": None, "last_failure": now}})

    async def give_back(self, subject: str, hold: str) -> None:
        """A successful attempt does not count against an address: undo its count (and its
        provisional lock, if it set one)."""
        await self.storage.collection("login_attempts").update_one(
            {"_id": subject, "hold": hold}, {"$set": {"locked_until": 0.0, "hold": None}})
        await self.storage.collection("login_attempts").update_one(
            {"_id": subject, "failures": {"$gt": 0}}, {"$inc": {"failures": -1}})

    async def clear(self, subject: str) -> None:
        """Forget a subject's failures (after a successful login)."""
        await self.storage.collection("login_attempts").delete_one({"_id": subject})

    async def prune(self, older_than: float) -> int:
        """Forget subjects whose last failure is older than ``older_than`` (epoch seconds)."""
        result = await self.storage.collection("login_attempts").delete_many(
            {"last_failure": {"$lt": older_than}, "locked_until": {"$lt": older_than}})
        return result.deleted_count
