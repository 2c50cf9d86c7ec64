"""Which upstream account minted an encrypted blob the relay passed back to a client.

The Responses API's reasoning ``encrypted_content`` and ``compaction`` items can be read only by
the account (organisation) that minted them. The relay keeps a short fingerprint of each such
blob with the account that produced it (collection ``context_marks``), so a later request
carrying the blob goes to that account even when its session binding is gone (expired,
another relay process, a restart).

Document: ``{"_id": fingerprint, "account_id", "kind", "expires_at"}``. The fingerprint is 24
hex characters of SHA-256 (never a date-like string: nx-27017 matches those wrongly);
``expires_at`` is epoch seconds (a number compares the same on MongoDB and nx-27017).
"""

from __future__ import annotations

import hashlib
from typing import Iterable

from pymongo.errors import BulkWriteError

from server.storage.db import Storage


def fingerprint(blob: str) -> str:
    """The short, stable name of one encrypted blob."""
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class ContextMarkStore:
    """fingerprint → minting account, with retention."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def remember(self, marks: Iterable[tuple[str, str]], account_id: str, expires_at: float) -> None:
        """Record ``(fingerprint, kind)`` pairs as minted by ``account_id``. A fingerprint
        already known keeps its first account (a blob has exactly one minter)."""
        docs = [{"_id": fp, "account_id": account_id, "kind": kind, "expires_at": expires_at}
                for fp, kind in dict(marks).items()]
        if not docs:
            return
        try:
            await self.storage.collection("context_marks").insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def minters(self, fingerprints: list[str], now: float) -> dict[str, str]:
        """fingerprint → account id for the known, unexpired ones among ``fingerprints``."""
        if not fingerprints:
            return {}
        found: dict[str, str] = {}
        # One query per 200 fingerprints: a long session resends hundreds of reasoning items.
        for i in range(0, len(fingerprints), 200):
            chunk = fingerprints[i:i + 200]
            cursor = self.storage.collection("context_marks").find(
                {"_id": {"$in": chunk}, "expires_at": {"$gt": now}}, {"account_id": 1})
            async for doc in cursor:
                found[doc["_id"]] = doc["account_id"]
        return found

    async def purge_expired(self, now: float) -> int:
        result = await self.storage.collection("context_marks").delete_many({"expires_at": {"$lt": now}})
        return result.deleted_count
