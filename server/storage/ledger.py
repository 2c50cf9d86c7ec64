"""The ledger: every balance change is one ledger document plus one atomic update of the
user's balance, without multi-document transactions.

Two steps, each idempotent and re-drivable:

1. insert the entry ``{_id, user_id, amount, type, ref, applied: False, ts}`` (``_id`` is the
   idempotency key, e.g. ``chg_<request id>``: inserting it twice fails on the unique ``_id``);
2. apply it: one conditional single-document update of the user,
   ``{_id: user, "ledger_marks.<entry>": {$exists: false}} → $inc balance, $set the mark``,
   so re-applying is a no-op; then mark the entry ``applied: True`` with ``balance_after``.

A crash between the steps leaves ``applied: False``; ``repair_pending`` re-drives those rows
(the mark tells whether the balance already moved). Marks of long-applied entries are removed
by ``prune_marks``. Invariant: balance == Σ amount of the user's entries whose mark was set,
which is Σ of applied entries once repair has run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Iterable

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from server.errors import NotFound
from server.storage.db import Storage

log = logging.getLogger(__name__)

ENTRY_TYPES = ("recharge", "charge", "refund", "adjustment", "redeem")
MARKS = "ledger_marks"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def make_entry(entry_id: str, user_id: str, amount: int, type: str, ref: str = "",
               meta: dict[str, Any] | None = None, ts: dt.datetime | None = None) -> dict[str, Any]:
    """The document of one ledger entry (not yet applied)."""
    if type not in ENTRY_TYPES:
        raise ValueError(f"unknown ledger entry type {type!r}")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("ledger amounts are integer micro-units")
    if "." in entry_id or entry_id.startswith("$"):
        raise ValueError("ledger ids must not contain '.' or start with '$'")
    return {"_id": entry_id, "user_id": user_id, "amount": amount, "type": type, "ref": ref,
            "meta": meta or {}, "applied": False, "balance_after": None, "ts": ts or utcnow()}


class LedgerStore:
    """Ledger entries and the balances they move."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def post(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Record and apply one entry; posting the same ``_id`` again returns the first result."""
        try:
            await self.storage.ledger.insert_one(entry)
        except DuplicateKeyError:
            existing = await self.storage.ledger.find_one({"_id": entry["_id"]})
            if existing is None:
                raise
            if existing["applied"]:
                return existing
            entry = existing
        return await self.apply(entry)

    async def exists(self, entry_id: str) -> bool:
        return await self.storage.ledger.find_one({"_id": entry_id}, {"_id": 1}) is not None

    async def apply(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Step 2 for one entry: move the balance once, then mark the entry applied."""
        now = time.time()  # epoch seconds: nx-27017 turns datetimes written by $set into strings
        user = await self.storage.users.find_one_and_update(
            {"_id": entry["user_id"], f"{MARKS}.{entry['_id']}": {"$exists": False}},
            {"$inc": {"balance": entry["amount"]}, "$set": {f"{MARKS}.{entry['_id']}": now}},
            projection={"balance": 1}, return_document=ReturnDocument.AFTER)
        if user is None:  # already applied earlier (crash before the mark), or no such user
            user = await self.storage.users.find_one({"_id": entry["user_id"]}, {"balance": 1})
            if user is None:
                raise NotFound("用户不存在")
        await self.storage.ledger.update_one(
            {"_id": entry["_id"], "applied": False},
            {"$set": {"applied": True, "balance_after": user["balance"], "applied_at": now}})
        return {**entry, "applied": True, "balance_after": user["balance"]}

    async def post_many(self, entries: list[dict[str, Any]]) -> dict[str, int]:
        """Batch form (usage flushes): insert all, then one balance update per user. Returns the
        balances it saw afterwards, by user."""
        balances: dict[str, int] = {}
        if not entries:
            return balances
        fresh_ids = await self._insert_many(entries)
        by_user: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            if entry["_id"] in fresh_ids:
                by_user.setdefault(entry["user_id"], []).append(entry)
        for user_id, group in by_user.items():
            balances[user_id] = await self._apply_group(user_id, group)
        # Entries that already existed (a re-driven flush) go the one-by-one way.
        for entry in entries:
            if entry["_id"] not in fresh_ids:
                existing = await self.storage.ledger.find_one({"_id": entry["_id"]})
                if existing is not None and not existing["applied"]:
                    balances[entry["user_id"]] = (await self.apply(existing))["balance_after"]
        return balances

    async def _insert_many(self, entries: list[dict[str, Any]]) -> set[str]:
        try:
            await self.storage.ledger.insert_many(entries, ordered=False)
            return {e["_id"] for e in entries}
        except BulkWriteError as exc:
            failed = {entries[err["index"]]["_id"] for err in exc.details.get("writeErrors", [])
                      if err.get("code") == 11000}
            others = [err for err in exc.details.get("writeErrors", []) if err.get("code") != 11000]
            if others:
                raise
            return {e["_id"] for e in entries} - failed

    async def _apply_group(self, user_id: str, group: list[dict[str, Any]]) -> int:
        now = time.time()
        condition: dict[str, Any] = {"_id": user_id}
        marks: dict[str, Any] = {}
        for entry in group:
            condition[f"{MARKS}.{entry['_id']}"] = {"$exists": False}
            marks[f"{MARKS}.{entry['_id']}"] = now
        user = await self.storage.users.find_one_and_update(
            condition, {"$inc": {"balance": sum(e["amount"] for e in group)}, "$set": marks},
            projection={"balance": 1}, return_document=ReturnDocument.AFTER)
        if user is None:  # some mark already there: fall back to one by one
            balance = 0
            for entry in group:
                balance = (await self.apply(entry))["balance_after"]
            return balance
        # Each row gets the running balance it left (the batch applied in order), in one trip.
        running, updates = user["balance"], []
        for entry in reversed(group):
            updates.append(UpdateOne({"_id": entry["_id"], "applied": False},
                                     {"$set": {"applied": True, "balance_after": running, "applied_at": now}}))
            running -= entry["amount"]
        await self.storage.ledger.bulk_write(updates, ordered=False)
        return user["balance"]

    async def repair_pending(self, older_than: float = 30.0, limit: int = 1000) -> int:
        """Re-drive entries left unapplied by a crash; returns how many were repaired."""
        cutoff = utcnow() - dt.timedelta(seconds=older_than)
        count = 0
        async for entry in self.storage.ledger.find({"applied": False, "ts": {"$lt": cutoff}}).limit(limit):
            try:
                await self.apply(entry)
                count += 1
            except NotFound:
                log.error("ledger entry %s names a missing user %s", entry["_id"], entry["user_id"])
        if count:
            log.warning("ledger repair: re-drove %d unapplied entries", count)
        return count

    async def prune_marks(self, user_ids: Iterable[str] | None = None, older_than: float = 3600.0) -> int:
        """Drop idempotency marks of entries applied more than ``older_than`` seconds ago."""
        cutoff = time.time() - older_than
        query: dict[str, Any] = {MARKS: {"$exists": True}}
        if user_ids is not None:
            query["_id"] = {"$in": list(user_ids)}
        pruned = 0
        async for user in self.storage.users.find(query, {MARKS: 1}):
            ids = list((user.get(MARKS) or {}).keys())
            if not ids:
                continue
            done = [e["_id"] async for e in self.storage.ledger.find(
                {"_id": {"$in": ids}, "applied": True, "applied_at": {"$lt": cutoff}}, {"_id": 1})]
            if done:
                await self.storage.users.update_one(
                    {"_id": user["_id"]}, {"$unset": {f"{MARKS}.{i}": "" for i in done}})
                pruned += len(done)
        return pruned

    async def balance_and_sum(self, user_id: str) -> tuple[int, int]:
        """(balance, Σ applied amounts): equal whenever no entry is half-way (audits, tests)."""
        user = await self.storage.users.find_one({"_id": user_id}, {"balance": 1})
        total = 0
        async for entry in self.storage.ledger.find({"user_id": user_id, "applied": True}, {"amount": 1}):
            total += entry["amount"]
        return (user or {}).get("balance", 0), total

    async def list_for_user(self, user_id: str, limit: int, offset: int,
                            type: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """A user's entries, newest first, and their count."""
        query: dict[str, Any] = {"user_id": user_id}
        if type:
            query["type"] = type
        rows = [e async for e in self.storage.ledger.find(query).sort("ts", -1).skip(offset).limit(limit)]
        return rows, await self.storage.count("ledger", query)
