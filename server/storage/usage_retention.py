"""Deleting raw usage rows past the retention period; their roll-ups stay
(``server.storage.rollups``), so totals outlive the rows."""

from __future__ import annotations

import datetime as dt

from server.storage.db import Storage
from server.storage.usage_filters import UsageFilters

# Rows are never older than this: the lower bound lets the embedded database answer the delete
# from the ts index (see usage_filters).
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


class UsageRetention:
    """Drops usage rows older than a cutoff."""

    def __init__(self, storage: Storage, filters: UsageFilters | None = None) -> None:
        self.storage = storage
        self.filters = filters or UsageFilters(storage)

    async def delete_before(self, cutoff: dt.datetime) -> int:
        """Delete every usage row written before ``cutoff``; returns how many went."""
        query = await self.filters.ts_range(EPOCH, cutoff)
        result = await self.storage.collection("usage").delete_many(query or {"ts": {"$lt": cutoff}})
        return result.deleted_count
