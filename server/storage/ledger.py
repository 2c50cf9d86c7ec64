"""The ledger: every balance change is one ledger document plus one atomic update of the
user's balance, without multi-document transactions.

Two steps, each idempotent and re-drivable:

1. insert the entry ``{_id, user_id, amount, type, ref, applied: False, ts}`` (``_id`` is the
   idempotency key, e.g. ``chg_<request id>``: inserting it twice fails on the unique ``_id``);
2. apply it: one conditional single-document update of the user,
   ``{_id: user, "ledger_marks.<entry>": {$exists: false}} → $inc balance, $set the mark``,
   so re-applying is a no-op; then mark the entry ``applied: True`` with ``balance_after``.

Usage flushes write ONE entry per user per flush (``flush entries``, ``rows_of: "usage"``): the
usage rows of that flush name it in their ``ledger_id`` and the entry carries their sum. The
usage row (unique by request id) is what makes a request charged exactly once, whatever batch it
arrives in: a request whose row already exists belongs to the entry that row names, never to a
later one. Four steps, each idempotent and re-drivable:

1. insert the entry's shell ``{_id: bat_…, user_id, amount: 0, rows_of: "usage", applied: False}``
   (so a crash after it leaves something ``repair_pending`` can find);
2. insert the usage rows naming it (``ServiceCharges`` in ``server.billing.charges``);
3. move the balance by the sum of the rows naming it, under the entry's mark (one conditional
   update of the user);
4. set the entry's ``amount``, ``rows``, ``applied: True`` and ``balance_after`` (one update).

Repair recomputes the sum from the usage rows themselves (``usage.ledger_id`` is indexed), so a
crash at any step ends with balance == Σ applied entries == −Σ cost of the charged rows.
Older per-request entries (``chg_<request id>``, and per-request rows sharing a ``batch`` id
from before flush entries) are still applied and repaired as they were.

A crash between the steps leaves ``applied: False``; ``repair_pending`` re-drives those rows
(the mark tells whether the balance already moved). Marks older than a few minutes whose rows
are all applied are removed by ``prune_marks``. Invariant: balance == Σ amount of the user's
entries whose mark was set, which is Σ of applied entries once repair has run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterable

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from server.clock import Clock, WallClock
from server.errors import NotFound
from server.i18n import t
from server.storage.db import Storage

log = logging.getLogger(__name__)

ENTRY_TYPES = ("recharge", "charge", "refund", "adjustment", "redeem")
MARKS = "ledger_marks"
FLUSH_ROWS = "usage"  # ``rows_of`` of a flush entry: its amount is the sum of the usage rows naming it


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


def make_flush_entry(entry_id: str, user_id: str, ts: dt.datetime | None = None) -> dict[str, Any]:
    """The shell of one user's flush entry (step 1): its amount comes with step 4."""
    entry = make_entry(entry_id, user_id, 0, "charge", ts=ts)
    entry.update({"rows_of": FLUSH_ROWS, "rows": 0})
    return entry


class LedgerStore:
    """Ledger entries and the balances they move."""

    def __init__(self, storage: Storage, clock: WallClock | None = None) -> None:
        self.storage = storage
        self.clock: WallClock = clock or Clock()

    async def post(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Record and apply one entry; posting the same ``_id`` again returns the first result."""
        try:
            await self.storage.db.ledger.insert_one(entry)
        except DuplicateKeyError:
            existing = await self.storage.db.ledger.find_one({"_id": entry["_id"]})
            if existing is None:
                raise
            if existing["applied"]:
                return existing
            entry = existing
        return await self.apply(entry)

    async def exists(self, entry_id: str) -> bool:
        return await self.storage.db.ledger.find_one({"_id": entry_id}, {"_id": 1}) is not None

    async def apply(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Step 2 for one entry, or for the whole batch it was written in: move the balance once
        (the mark makes a second try a no-op), then flag the rows applied."""
        if entry.get("rows_of") == FLUSH_ROWS:
            amount, count, ref = await self.flush_sum(entry["_id"])
            if not count:  # a crash between the shell and the rows: nothing names it
                await self.drop_flush_entry(entry["_id"])
                return {**entry, "applied": True, "balance_after": None, "rows": 0}
            balance = await self.close_flush_entry(entry["_id"], entry["user_id"], amount, count, ref)
            return {**entry, "amount": amount, "rows": count, "applied": True, "balance_after": balance}
        if entry.get("batch"):
            rows = [r async for r in self.storage.db.ledger.find(
                {"$and": [{"batch": entry["batch"]}, {"user_id": entry["user_id"]}]})]
            rows.sort(key=lambda r: (r["ts"], r["_id"]))
            balance = await self._apply_rows(entry["user_id"], entry["batch"], rows)
            row = await self.storage.db.ledger.find_one({"_id": entry["_id"]}) or entry
            return {**row, "applied": True, "balance_after": row.get("balance_after", balance)}
        balance = await self._apply_rows(entry["user_id"], entry["_id"], [entry])
        return {**entry, "applied": True, "balance_after": balance}

    async def _move(self, user_id: str, mark: str, amount: int, now: float) -> int:
        """The conditional balance update; returns the balance after it (or as it already was)."""
        user = await self.storage.db.users.find_one_and_update(
            {"_id": user_id, f"{MARKS}.{mark}": {"$exists": False}},
            {"$inc": {"balance": amount}, "$set": {f"{MARKS}.{mark}": now}},
            projection={"balance": 1}, return_document=ReturnDocument.AFTER)
        if user is None:  # moved earlier (a crash before the rows were flagged), or no such user
            user = await self.storage.db.users.find_one({"_id": user_id}, {"balance": 1})
            if user is None:
                raise NotFound(t("用户不存在"))
        return user["balance"]

    async def _apply_rows(self, user_id: str, mark: str, rows: list[dict[str, Any]]) -> int:
        """Move the balance by the rows' sum under one mark; each row gets the running balance
        it left (the rows applied in order), in one round trip."""
        now = self.clock.now()  # epoch seconds: nx-27017 turns datetimes written by $set into strings
        balance = await self._move(user_id, mark, sum(r["amount"] for r in rows), now)
        running, updates = balance, []
        for row in reversed(rows):
            updates.append(UpdateOne({"_id": row["_id"], "applied": False},
                                     {"$set": {"applied": True, "balance_after": running,
                                               "applied_at": now}}))
            running -= row["amount"]
        if updates:
            await self.storage.db.ledger.bulk_write(updates, ordered=False)
        return balance

    # -- flush entries (one per user per usage flush) -------------------------------------------

    async def open_flush_entries(self, shells: list[dict[str, Any]]) -> None:
        """Step 1 for every user of a flush, one command; a shell that exists already (a retried
        flush re-using its entry) is fine."""
        if shells:
            await self._insert_many(shells)

    async def insert_usage_rows(self, docs: list[dict[str, Any]]) -> set[int]:
        """Step 2: the usage rows, one command; returns the indexes of rows that existed already
        (their request was recorded before: it is charged by the entry its row names)."""
        if not docs:
            return set()
        try:
            await self.storage.db.usage.insert_many(docs, ordered=False)
            return set()
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != 11000 for err in errors):
                raise
            return {err["index"] for err in errors}

    async def owners(self, request_ids: list[str]) -> dict[str, str | None]:
        """The entry each recorded request's usage row names (request id -> ledger id)."""
        if not request_ids:
            return {}
        return {d["_id"]: d.get("ledger_id") async for d in
                self.storage.db.usage.find({"_id": {"$in": request_ids}}, {"ledger_id": 1})}

    async def close_flush_entry(self, entry_id: str, user_id: str, amount: int, rows: int,
                                ref: str = "", meta: dict[str, Any] | None = None) -> int:
        """Steps 3 and 4: move the balance once under the entry's mark, then write the amount
        and flag it applied. Returns the balance after the move."""
        now = self.clock.now()  # epoch seconds, as the marks
        balance = await self._move(user_id, entry_id, amount, now)
        await self.storage.db.ledger.update_one(
            {"_id": entry_id, "applied": False},
            {"$set": {"amount": amount, "rows": rows, "ref": ref, "meta": meta or {}, "applied": True,
                      "balance_after": balance, "applied_at": now}})
        return balance

    async def applied_entries(self, entry_ids: list[str]) -> set[str]:
        """Those of ``entry_ids`` already closed (by repair, or by an earlier charge of a batch
        being retried one record at a time)."""
        if not entry_ids:
            return set()
        return {d["_id"] async for d in self.storage.db.ledger.find(
            {"$and": [{"_id": {"$in": entry_ids}}, {"applied": True}]}, {"_id": 1})}

    async def settle_flush_entry(self, entry_id: str, user_id: str,
                                 meta: dict[str, Any] | None = None) -> int | None:
        """Close a retried flush's entry from the rows that name it (the rows are the truth,
        whichever attempt wrote them), or drop it if none does; nothing if it is closed already
        (a closed entry is never moved again, even once its mark is pruned). Returns the
        balance after the move, or None when nothing moved."""
        entry = await self.storage.db.ledger.find_one({"_id": entry_id}, {"applied": 1})
        if entry is None or entry.get("applied"):
            return None
        amount, count, ref = await self.flush_sum(entry_id)
        if not count:
            await self.drop_flush_entry(entry_id)
            return None
        return await self.close_flush_entry(entry_id, user_id, amount, count, ref, meta)

    async def drop_flush_entry(self, entry_id: str) -> None:
        """A shell no usage row names (every request of it was recorded before): remove it."""
        await self.storage.db.ledger.delete_one({"_id": entry_id, "applied": False, "rows_of": FLUSH_ROWS})

    async def flush_sum(self, entry_id: str) -> tuple[int, int, str]:
        """(−Σ cost, row count, the request id if there is one row) of the usage rows naming the
        entry: what repair applies (the rows, unique by request id, are the truth)."""
        total, count, ref = 0, 0, ""
        async for row in self.storage.db.usage.find({"ledger_id": entry_id}, {"cost": 1}):
            total += int(row.get("cost") or 0)
            count += 1
            ref = row["_id"]
        return -total, count, ref if count == 1 else ""

    async def flush_rows(self, user_id: str, entry_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """The usage rows a user's flush entry charged (the transactions view's link), oldest first."""
        rows = [r async for r in self.storage.db.usage.find(
            {"$and": [{"ledger_id": entry_id}, {"user_id": user_id}]}).limit(limit)]
        rows.sort(key=lambda r: (r["ts"], r["_id"]))
        return rows

    async def usage_row(self, request_id: str) -> dict[str, Any] | None:
        return await self.storage.db.usage.find_one({"_id": request_id})

    async def add_key_totals(self, key_id: str, inc: dict[str, int], last_used: float) -> None:
        """A flush's running totals of one key (usage, spend for quotas, last use)."""
        await self.storage.db.api_keys.update_one(
            {"_id": key_id}, {"$inc": inc, "$max": {"last_used_at": last_used}})

    async def get_for_user(self, user_id: str, entry_id: str) -> dict[str, Any] | None:
        return await self.storage.db.ledger.find_one({"_id": entry_id, "user_id": user_id})

    async def _insert_many(self, entries: list[dict[str, Any]]) -> set[str]:
        try:
            await self.storage.db.ledger.insert_many(entries, ordered=False)
            return {e["_id"] for e in entries}
        except BulkWriteError as exc:
            failed = {entries[err["index"]]["_id"] for err in exc.details.get("writeErrors", [])
                      if err.get("code") == 11000}
            others = [err for err in exc.details.get("writeErrors", []) if err.get("code") != 11000]
            if others:
                raise
            return {e["_id"] for e in entries} - failed

    async def repair_pending(self, older_than: float = 30.0, limit: int = 1000) -> int:
        """Re-drive entries left unapplied by a crash; returns how many were repaired."""
        cutoff = utcnow() - dt.timedelta(seconds=older_than)
        count = 0
        batches_done: set[str] = set()
        pending = self.storage.db.ledger.find({"applied": False, "ts": {"$lt": cutoff}}).limit(limit)
        async for entry in pending:
            if entry.get("batch") and entry.get("batch") in batches_done:
                count += 1
                continue
            try:
                await self.apply(entry)
                count += 1
                if entry.get("batch"):
                    batches_done.add(entry["batch"])
            except NotFound:
                log.error("ledger entry %s names a missing user %s", entry["_id"], entry["user_id"])
        if count:
            log.warning("ledger repair: re-drove %d unapplied entries", count)
        return count

    async def prune_marks(self, user_ids: Iterable[str] | None = None, older_than: float = 300.0) -> int:
        """Drop marks set more than ``older_than`` seconds ago whose entries are all applied
        (a mark only matters while its rows may still be re-driven)."""
        cutoff = self.clock.now() - older_than
        query: dict[str, Any] = {MARKS: {"$exists": True}}
        if user_ids is not None:
            query["_id"] = {"$in": list(user_ids)}
        pruned = 0
        async for user in self.storage.db.users.find(query, {MARKS: 1}):
            old = [k for k, at in (user.get(MARKS) or {}).items()
                   if isinstance(at, (int, float)) and at < cutoff]
            if not old:
                continue
            pending = set()
            async for row in self.storage.db.ledger.find(
                    {"$and": [{"$or": [{"_id": {"$in": old}}, {"batch": {"$in": old}}]}, {"applied": False}]},
                    {"_id": 1, "batch": 1}):
                pending.update({row["_id"], row.get("batch")})
            done = [k for k in old if k not in pending]
            if done:
                await self.storage.db.users.update_one(
                    {"_id": user["_id"]}, {"$unset": {f"{MARKS}.{k}": "" for k in done}})
                pruned += len(done)
        return pruned

    async def balance_and_sum(self, user_id: str) -> tuple[int, int]:
        """(balance, Σ applied amounts): equal whenever no entry is half-way (audits, tests)."""
        user = await self.storage.db.users.find_one({"_id": user_id}, {"balance": 1})
        total = 0
        async for entry in self.storage.db.ledger.find({"user_id": user_id, "applied": True}, {"amount": 1}):
            total += entry["amount"]
        return (user or {}).get("balance", 0), total

    async def list_for_user(self, user_id: str, limit: int, offset: int,
                            type: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """A user's entries, newest first, and their count."""
        query: dict[str, Any] = {"user_id": user_id}
        if type:
            query["type"] = type
        rows = [e async for e in self.storage.db.ledger.find(query).sort("ts", -1).skip(offset).limit(limit)]
        return rows, await self.storage.count("ledger", query)
