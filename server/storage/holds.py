"""Holds: money set aside at admission for a request in flight, on the user's document (against
the balance) and on the key's (against its spend quota). Single-document atomic updates only,
like the ledger (no transactions)::

    users:    {..., balance, held: Σ open holds, holds: {<hold id>: {a: amount, x: expires epoch}}}
    api_keys: {..., totals: {cost, …}, held: Σ open holds, holds: {<hold id>: {a, x}}}

Taking a hold is one conditional update that also checks the cover::

    {_id, status: "active", held: h, balance: {$gte: h + amount − overdraft}, holds.<id>: absent}
      → $inc held: amount, $set holds.<id>

``held`` must equal the value read (compare-and-set), ``balance`` only needs to be large
enough, so a usage flush moving the balance never makes a take retry; only concurrent takes and
releases of one user do (serialised per process by a lock). The first try starts from the fields
this process saw last, so a user's next call usually costs one round trip. Releasing is
``{_id, holds.<id>: present} → $inc held: −amount, $unset holds.<id>``: idempotent, a second
release matches nothing. A crashed process's holds are released by the repair job (their
charge is already in the usage rows, or their lease ran out)."""

from __future__ import annotations

from typing import Any, Iterable

from pymongo import ReturnDocument

from server.storage.db import Storage

TAKE_TRIES = 64  # compare-and-set rounds before a take gives up (only other processes race here)
MONEY = {"balance": 1, "held": 1, "status": 1, "overdraft": 1}


def _held_is(value: int, present: bool) -> dict[str, Any]:
    return {"held": value} if present else {"held": {"$exists": False}}


class HoldStore:
    """Takes and releases holds on user and key documents."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        # The money fields of each user as this process last saw them (after its own takes and
        # releases): the first compare-and-set tries them, so a user's next request usually
        # costs one round trip. Never trusted for a refusal: those are decided on a fresh read.
        self._seen: dict[str, dict[str, Any]] = {}

    async def take_user(self, user_id: str, hold_id: str, amount: int, overdraft: int,
                        expires: float) -> tuple[str, dict[str, Any] | None]:
        """("ok" | "insufficient" | "disabled" | "missing" | "busy", the user's money fields after)."""
        users = self.storage.db.users
        doc, fresh = self._seen.get(user_id), False
        for _ in range(TAKE_TRIES):
            if doc is None or not fresh and not _covers(doc, amount, overdraft):
                if fresh:
                    break
                doc, fresh = await self._read(user_id), True
                continue
            if not _covers(doc, amount, overdraft):
                break
            allowed = user_overdraft(doc, overdraft)
            held = int(doc.get("held") or 0)
            after = await users.find_one_and_update(
                {"$and": [{"_id": user_id}, {"status": "active"}, _held_is(held, "held" in doc),
                          {"balance": {"$gte": held + amount - allowed}},
                          {f"holds.{hold_id}": {"$exists": False}}]},
                {"$inc": {"held": amount}, "$set": {f"holds.{hold_id}": {"a": amount, "x": expires}}},
                projection=MONEY, return_document=ReturnDocument.AFTER)
            if after is not None:
                self._remember(user_id, after)
                return "ok", after
            doc, fresh = await self._read(user_id), True
        else:
            return "busy", doc
        if doc is None:
            return "missing", None
        return ("disabled" if doc.get("status") != "active" else "insufficient"), doc

    async def _read(self, user_id: str) -> dict[str, Any] | None:
        doc = await self.storage.db.users.find_one({"_id": user_id}, MONEY)
        if doc is not None:
            self._remember(user_id, doc)
        return doc

    def _remember(self, user_id: str, doc: dict[str, Any]) -> None:
        if len(self._seen) >= 50_000 and user_id not in self._seen:
            self._seen.clear()
        self._seen[user_id] = doc

    async def take_key(self, key_id: str, hold_id: str, amount: int, quota: int,
                       expires: float) -> str:
        """"ok" | "quota" | "disabled": the key is active and, with a quota, spent + held < quota."""
        keys = self.storage.db.api_keys
        update = {"$inc": {"held": amount}, "$set": {f"holds.{hold_id}": {"a": amount, "x": expires}}}
        if quota <= 0:
            done = await keys.find_one_and_update({"_id": key_id, "status": "active"}, update,
                                                  projection={"_id": 1})
            return "ok" if done is not None else "disabled"
        for _ in range(TAKE_TRIES):
            doc = await keys.find_one({"_id": key_id}, {"status": 1, "held": 1, "totals.cost": 1})
            if doc is None or doc.get("status") != "active":
                return "disabled"
            held = int(doc.get("held") or 0)
            spent = int((doc.get("totals") or {}).get("cost") or 0)
            if spent + held >= quota:
                return "quota"
            # spent + held < quota, checked in the update itself (a flush may have moved ``spent``)
            spent_filter = {"$or": [{"totals.cost": {"$lt": quota - held}},
                                    {"totals.cost": {"$exists": False}}]}
            done = await keys.find_one_and_update(
                {"$and": [{"_id": key_id}, {"status": "active"}, _held_is(held, "held" in doc), spent_filter,
                          {f"holds.{hold_id}": {"$exists": False}}]},
                update, projection={"_id": 1})
            if done is not None:
                return "ok"
        return "quota"

    # -- budget leases (server.billing.leases): one hold per process on a user or key ----------

    async def lease_user(self, user_id: str, lease_id: str, want: int, need: int, overdraft: int,
                         expires: float) -> tuple[str, int]:
        """Set this process's lease on the user to ``want`` micro-units, or ``need`` plus half of
        what the balance covers beyond it (the other half stays for other processes), but at
        least ``need`` (read fresh, then one compare-and-set on ``held`` and the
        lease's own amount). Returns (outcome as ``take_user``'s, the amount granted)."""
        users = self.storage.db.users
        for _ in range(TAKE_TRIES):
            doc = await users.find_one({"_id": user_id}, {**MONEY, f"holds.{lease_id}": 1})
            if doc is None:
                return "missing", 0
            if doc.get("status") != "active":
                return "disabled", 0
            held, mine, mine_filter = _lease_of(doc, lease_id)
            others = held - mine
            allowed = user_overdraft(doc, overdraft)
            room = int(doc.get("balance") or 0) - others + allowed
            if room < need:
                return "insufficient", 0
            amount = max(need, min(want, need + (room - need) // 2))  # half the rest left to others
            after = await users.find_one_and_update(
                {"$and": [{"_id": user_id}, {"status": "active"}, _held_is(held, "held" in doc), mine_filter,
                          {"balance": {"$gte": others + amount - allowed}}]},
                {"$inc": {"held": amount - mine}, "$set": {f"holds.{lease_id}": {"a": amount, "x": expires}}},
                projection=MONEY, return_document=ReturnDocument.AFTER)
            if after is not None:
                return "ok", amount
        return "busy", 0

    async def lease_key(self, key_id: str, lease_id: str, want: int, need: int, estimate: int,
                        quota: int, expires: float) -> tuple[str, int]:
        """The key's lease: without a quota only a status read ("ok", ``want``); with one, set
        aside ``want`` or what the quota leaves, at least ``need``; refused ("quota") when
        ``spent + held by others + outstanding ≥ quota`` (so a quota is passed by at most the
        last request admitted, as with per-request holds)."""
        keys = self.storage.db.api_keys
        for _ in range(TAKE_TRIES):
            doc = await keys.find_one({"_id": key_id}, {"status": 1, "held": 1, "totals.cost": 1,
                                                        f"holds.{lease_id}": 1})
            if doc is None or doc.get("status") != "active":
                return "disabled", 0
            if quota <= 0:
                return "ok", want
            held, mine, mine_filter = _lease_of(doc, lease_id)
            others = held - mine
            spent = int((doc.get("totals") or {}).get("cost") or 0)
            if spent + others + need - estimate >= quota:
                return "quota", 0
            amount = max(need, min(want, need + (quota - spent - others - need) // 2))
            spent_filter = {"$or": [{"totals.cost": {"$lte": spent}}, {"totals.cost": {"$exists": False}}]}
            done = await keys.find_one_and_update(
                {"$and": [{"_id": key_id}, {"status": "active"}, _held_is(held, "held" in doc), mine_filter,
                          spent_filter]},
                {"$inc": {"held": amount - mine}, "$set": {f"holds.{lease_id}": {"a": amount, "x": expires}}},
                projection={"_id": 1})
            if done is not None:
                return "ok", amount
        return "quota", 0

    async def drop_lease(self, collection: str, doc_id: str, lease_id: str, amount: int) -> bool:
        """Give a lease back (idle, or shutting down): only the amount this process set."""
        done = await self.storage.collection(collection).update_one(
            {"_id": doc_id, f"holds.{lease_id}.a": amount},
            {"$inc": {"held": -amount}, "$unset": {f"holds.{lease_id}": ""}})
        return done.modified_count == 1

    async def extend_lease(self, collection: str, doc_id: str, lease_id: str, amount: int,
                           expires: float) -> bool:
        """Push a lease's expiry on (requests under it still in flight)."""
        done = await self.storage.collection(collection).update_one(
            {"_id": doc_id, f"holds.{lease_id}.a": amount}, {"$set": {f"holds.{lease_id}.x": expires}})
        return done.modified_count == 1

    async def release(self, collection: str, doc_id: str, holds: dict[str, int]) -> int:
        """Release holds of one document; returns how many were still open (idempotent)."""
        if not holds:
            return 0
        coll = self.storage.collection(collection)
        together = await coll.find_one_and_update(
            {"$and": [{"_id": doc_id}, *({f"holds.{h}": {"$exists": True}} for h in holds)]},
            {"$inc": {"held": -sum(holds.values())}, "$unset": {f"holds.{h}": "" for h in holds}},
            projection=MONEY, return_document=ReturnDocument.AFTER)
        if together is not None:
            if collection == "users":
                self._remember(doc_id, together)
            return len(holds)
        released = 0  # some were released already (the repair job): one by one
        for hold_id, amount in holds.items():
            one = await coll.update_one({"_id": doc_id, f"holds.{hold_id}": {"$exists": True}},
                                        {"$inc": {"held": -amount}, "$unset": {f"holds.{hold_id}": ""}})
            released += one.modified_count
        return released

    async def with_holds(self, collection: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Documents holding anything (the repair job's scan)."""
        cursor = self.storage.collection(collection).find({"held": {"$gt": 0}}, {"holds": 1}).limit(limit)
        return [d async for d in cursor]

    async def charged(self, request_ids: Iterable[str]) -> set[str]:
        """Which of these requests already have their usage row (so their charge is in)."""
        ids = list(request_ids)
        if not ids:
            return set()
        return {d["_id"] async for d in self.storage.db.usage.find({"_id": {"$in": ids}}, {"_id": 1})}

    async def key_active(self, key_id: str) -> bool:
        """Whether the key is active now (read, not cached)."""
        doc = await self.storage.db.api_keys.find_one({"_id": key_id}, {"status": 1})
        return doc is not None and doc.get("status") == "active"

    async def available(self, user_id: str) -> tuple[int, str] | None:
        """(balance − held, status) read now, or None for a missing user."""
        doc = await self.storage.db.users.find_one({"_id": user_id}, {"balance": 1, "held": 1, "status": 1})
        if doc is None:
            return None
        return int(doc.get("balance") or 0) - int(doc.get("held") or 0), str(doc.get("status"))


def _lease_of(doc: dict[str, Any], lease_id: str) -> tuple[int, int, dict[str, Any]]:
    """(held, this lease's amount, the filter that it is still that amount)."""
    held = int(doc.get("held") or 0)
    # nx-27017 answers a dotted projection with the dotted name as a top-level key
    entry = (doc.get("holds") or {}).get(lease_id) or doc.get(f"holds.{lease_id}")
    if isinstance(entry, dict):
        mine = int(entry.get("a") or 0)
        return held, mine, {f"holds.{lease_id}.a": mine}
    return held, 0, {f"holds.{lease_id}": {"$exists": False}}


def _covers(doc: dict[str, Any], amount: int, overdraft: int) -> bool:
    """Whether an active user's balance less what is held covers ``amount`` (with credit)."""
    return doc.get("status") == "active" and \
        int(doc.get("balance") or 0) - int(doc.get("held") or 0) - amount >= -user_overdraft(doc, overdraft)


def user_overdraft(doc: dict[str, Any], default: int) -> int:
    """What a user may go below zero: their own ``overdraft`` if the operator set one, else the default."""
    value = doc.get("overdraft")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default

