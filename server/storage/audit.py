"""The operator audit trail, collection ``audit``. Document::

    {_id: "aud_…", ts, admin_id, action: "upstream.create" …, target, before, after}

Masking secrets is the caller's job (``server.admin.audit``); this stores and pages."""

from __future__ import annotations

from typing import Any

from server.storage.db import Storage
from server.storage.exact import exact


class AuditStore:
    """Append audit entries and read them back, newest first."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def add(self, entry: dict[str, Any]) -> None:
        await self.storage.collection("audit").insert_one(entry)

    async def page(self, limit: int, offset: int,
                   action: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """One page of entries (optionally of one action) and how many there are in all."""
        query: dict[str, Any] = {"action": exact(action)} if action else {}
        cursor = self.storage.collection("audit").find(query).sort("_id", -1).skip(offset).limit(limit)
        return [doc async for doc in cursor], await self.storage.count("audit", query)
