"""The ``recharge_orders`` and ``redeem_codes`` collections. Documents::

    recharge_orders: {_id: "rco_…", user_id, amount: int micro, description,
                      method: "manual" | "code" | "open",
                      status: "pending" | "approved" | "rejected" | "credited",
                      created_at, decided_at, decided_by, ledger_id, code_id, reason}
    redeem_codes:    {_id: "rdc_…", code (unique, "XXXX-XXXX-XXXX-XXXX"), amount: int micro,
                      status: "active" | "redeemed" | "revoked", expires_at: datetime | None,
                      created_by, created_at, redeemed_by, redeemed_at}

Every state change is one conditional single-document update, so concurrent callers agree
on who won without transactions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymongo import ReturnDocument

from server.storage.db import Storage
from server.storage.exact import exact


class RechargeOrderStore:
    """Recharge orders and their status transitions."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def insert(self, doc: dict[str, Any]) -> None:
        """Store a new order."""
        await self.storage.collection("recharge_orders").insert_one(doc)

    async def get(self, order_id: str) -> dict[str, Any] | None:
        """An order by id, or None."""
        return await self.storage.collection("recharge_orders").find_one({"_id": order_id})

    async def transition(self, order_id: str, from_status: str, to_status: str,
                         fields: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Move an order from ``from_status`` to ``to_status``; None if it was not in ``from_status``."""
        return await self.storage.collection("recharge_orders").find_one_and_update(
            {"_id": order_id, "status": from_status},
            {"$set": {"status": to_status, **(fields or {})}}, return_document=ReturnDocument.AFTER)

    async def list(self, query: dict[str, Any], limit: int,
                   offset: int) -> tuple[list[dict[str, Any]], int]:
        """Orders matching ``query`` (e.g. ``{"user_id": …}`` or ``{"status": "pending"}``), newest first."""
        orders = self.storage.collection("recharge_orders")
        cursor = orders.find(query).sort("_id", -1).skip(offset).limit(limit)
        return [o async for o in cursor], await self.storage.count("recharge_orders", query)

    async def count(self, query: dict[str, Any]) -> int:
        """How many orders match (e.g. a user's pending ones)."""
        return await self.storage.count("recharge_orders", query)


class RedeemCodeStore:
    """Redeem codes: created in batches, each redeemed at most once."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def insert_many(self, docs: list[dict[str, Any]]) -> None:
        """Store a batch of new codes (a taken code fails on the unique index)."""
        await self.storage.collection("redeem_codes").insert_many(docs, ordered=True)

    async def redeem(self, code: str, user_id: str, now: dt.datetime) -> dict[str, Any] | None:
        """Atomically take an active, unexpired code for ``user_id``; None if there is none."""
        # The code's id first: nx-27017 mis-combines an ``$in`` (how ``exact`` matches a date-like
        # code) with the ``$or`` below. The update itself stays one conditional, atomic step.
        found = await self.storage.collection("redeem_codes").find_one({"code": exact(code)}, {"_id": 1})
        if found is None:
            return None
        # Written as one $and: nx-27017 mis-combines a top-level $or with sibling fields.
        query = {"$and": [{"_id": found["_id"]}, {"status": "active"},
                          {"$or": [{"expires_at": None}, {"expires_at": {"$gt": now}}]}]}
        return await self.storage.collection("redeem_codes").find_one_and_update(
            query, {"$set": {"status": "redeemed", "redeemed_by": user_id, "redeemed_at": now,
                             "redeemed_ts": now.timestamp()}},  # a number: nx stores $set dates as text
            return_document=ReturnDocument.AFTER)

    async def redeemed_since(self, since: float) -> list[dict[str, Any]]:
        """Codes taken after ``since`` (epoch seconds): the redeem repair's candidates."""
        return [doc async for doc in self.storage.collection("redeem_codes").find(
            {"$and": [{"status": "redeemed"}, {"redeemed_ts": {"$gte": since}}]})]

    async def get_by_code(self, code: str) -> dict[str, Any] | None:
        """A code by its normalised text, or None."""
        return await self.storage.collection("redeem_codes").find_one({"code": exact(code)})

    async def expire_due(self, now: dt.datetime) -> int:
        """Mark active codes whose expiry has passed as ``expired``; returns how many."""
        result = await self.storage.collection("redeem_codes").update_many(
            {"$and": [{"status": "active"}, {"expires_at": {"$ne": None}}, {"expires_at": {"$lt": now}}]},
            {"$set": {"status": "expired"}})
        return result.modified_count

    async def revoke(self, code_id: str) -> dict[str, Any] | None:
        """Revoke an active code; None if it was not active."""
        return await self.storage.collection("redeem_codes").find_one_and_update(
            {"_id": code_id, "status": "active"}, {"$set": {"status": "revoked"}},
            return_document=ReturnDocument.AFTER)

    async def list(self, query: dict[str, Any], limit: int,
                   offset: int) -> tuple[list[dict[str, Any]], int]:
        """Codes matching ``query``, newest first, and their count."""
        cursor = self.storage.collection("redeem_codes").find(query).sort("_id", -1).skip(offset).limit(limit)
        return [c async for c in cursor], await self.storage.count("redeem_codes", query)
