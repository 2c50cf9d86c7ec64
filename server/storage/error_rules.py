"""The pool's error rules as the operator stored them: ``settings`` document
``{_id: "error_rules", rules: [...], updated_at, updated_by}``. No document (or an empty list)
means the defaults of ``server.pools.rules`` apply; validating rules is the caller's job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.storage.db import Storage

DOC_ID = "error_rules"


class ErrorRulesStore:
    """Read and replace the stored rule list."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def stored(self) -> list[dict[str, Any]]:
        """The operator's rules as stored; empty when none are (the defaults apply)."""
        doc = await self.storage.collection("settings").find_one({"_id": DOC_ID})
        return list(doc.get("rules") or []) if doc else []

    async def replace(self, rules: list[dict[str, Any]], by: str, at: dt.datetime) -> None:
        """Store ``rules`` (already validated); an empty list restores the defaults."""
        await self.storage.collection("settings").update_one(
            {"_id": DOC_ID}, {"$set": {"rules": rules, "updated_at": at, "updated_by": by}}, upsert=True)
