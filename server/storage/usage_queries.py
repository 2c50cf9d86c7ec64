"""Read-only queries over the ``usage`` collection (rows written by
``server.billing.charges.usage_doc``): a user's request log, page by page, and the sums
behind their statistics (in all, per model / key / group, and per UTC day).

The log is ordered by ``(ts, request_id)`` (``request_id`` is the row's ``_id``), newest first,
exactly as the compound indexes ``(user_id[, key_id | model], ts, request_id)`` of
``server.storage.db`` hold it, so a page reads its own rows, not every row of the user, and needs
no sort. Pages after the first are keyset pages (``before``: the cursor of the previous page's
last row), the same cost at any depth. An ``offset`` still works: it skips index entries (on
nx-27017 without reading the skipped rows; ~0.1 µs each), so it grows with the offset, slowly.
Filters are written by ``server.storage.usage_filters`` so MongoDB and nx-27017 both answer them
from those indexes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from server.storage.db import Storage
from server.storage.rollups import RollupStore
from server.storage.usage_counts import UsageCounter
from server.storage.usage_cursor import ORDER, LogCursor
from server.storage.usage_filters import TimeForm, UsageFilter, UsageFilters
from server.storage.usage_scan import scan_rows
from server.storage.usage_windows import DAY, bucket_totals, bucket_totals_by_value, split

TOKEN_KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "reasoning")
GROUP_FIELDS = ("model", "key_id", "group")
DAY_FORMAT = "%Y-%m-%d"


def _sums() -> dict[str, Any]:
    sums: dict[str, Any] = {"requests": {"$sum": 1}, "cost": {"$sum": "$cost"}}
    for kind in TOKEN_KINDS:
        sums[kind] = {"$sum": f"$tokens.{kind}"}
    return sums


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    return {"requests": int(row.get("requests", 0)), "cost": int(row.get("cost", 0)),
            "tokens": {kind: int(row.get(kind, 0) or 0) for kind in TOKEN_KINDS}}


def _rollup_shape(totals: dict[str, Any]) -> dict[str, Any]:
    """Roll-up totals in the shape of ``_shape`` (requests, cost, tokens by kind)."""
    tokens = totals.get("tokens") or {}
    return {"requests": int(totals.get("requests", 0)), "cost": int(totals.get("cost", 0)),
            "tokens": {kind: int(tokens.get(kind, 0) or 0) for kind in TOKEN_KINDS}}


@dataclass
class LogPage:
    """One page of a request log: rows newest first, the filter's total, and the cursor of the
    next page (None on the last page)."""

    rows: list[dict[str, Any]]
    total: int
    total_exact: bool
    next_cursor: str | None


class UsageQueries:
    """A user's usage rows and sums over them."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.filters = UsageFilters(storage)
        self.counter = UsageCounter(storage, self.filters)

    async def log(self, filt: UsageFilter, *, limit: int, offset: int = 0,
                  before: LogCursor | None = None) -> LogPage:
        """The rows after ``before`` (or from ``offset``), at most ``limit``, and the total."""
        if await self.filters.form() is TimeForm.SCAN:
            rows = await scan_rows(self.storage, filt, limit=limit + 1, offset=offset, before=before)
        elif before is not None:
            rows = await self._after(filt, before, limit + 1)
        else:
            rows = await self._rows(filt, limit + 1, offset)
        more = len(rows) > limit
        rows = rows[:limit]
        total, exact = await self.counter.total(filt)
        return LogPage(rows, total, exact, LogCursor.of(rows[-1]).encode() if more and rows else None)

    async def page(self, user_id: str, *, limit: int, offset: int, key_id: str | None = None,
                   model: str | None = None, since: dt.datetime | None = None,
                   until: dt.datetime | None = None) -> tuple[list[dict[str, Any]], int]:
        """One page of a user's rows, newest first, and how many match (see ``log``)."""
        page = await self.log(UsageFilter(user_id, key_id, model, since, until), limit=limit, offset=offset)
        return page.rows, page.total

    async def _rows(self, filt: UsageFilter, n: int, offset: int = 0) -> list[dict[str, Any]]:
        query = await self.filters.query(filt)
        cursor = self.storage.collection("usage").find(query).sort(ORDER)
        if offset:
            cursor = cursor.skip(offset)
        return await cursor.limit(n).to_list()

    async def _after(self, filt: UsageFilter, cursor: LogCursor, n: int) -> list[dict[str, Any]]:
        """Rows after ``cursor``: first those at its very millisecond with a smaller id (rarely
        any), then the older ones. Two index ranges: nx-27017 cannot run a top-level ``$or``."""
        rows: list[dict[str, Any]] = []
        if filt.admits(cursor.ts):
            query = await self.filters.query(filt, at=cursor.ts, below=cursor.id)
            rows = await self.storage.collection("usage").find(query).sort(ORDER).limit(n).to_list()
        if len(rows) < n:
            rows += await self._rows(filt.within(None, cursor.ts), n - len(rows))
        return rows

    async def _match(self, user_id: str, since: dt.datetime | None,
                     until: dt.datetime | None) -> dict[str, Any]:
        return {"$match": await self.filters.query(UsageFilter(user_id, since=since, until=until))}

    async def totals(self, user_id: str, since: dt.datetime | None = None,
                     until: dt.datetime | None = None) -> dict[str, Any]:
        """Requests, cost and tokens by kind of a user's rows in ``[since, until)``, from the rows."""
        pipeline = [await self._match(user_id, since, until), {"$group": {"_id": None, **_sums()}}]
        rows = [row async for row in await self.storage.collection("usage").aggregate(pipeline)]
        return _shape(rows[0] if rows else {})

    async def window_totals(self, user_id: str, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
        """The same sums from the user's roll-ups: whole hours and days from their buckets, partial
        hours at the ends (none if both ends are on the hour, as the statistics' are) from the
        rows. Roll-ups outlive retention, so old windows still add up."""
        window = split(since, until)
        sums = _rollup_shape(await bucket_totals(self.storage, "user", user_id, window.buckets))
        for lo, hi in window.edges:
            edge = await self.totals(user_id, lo, hi)
            sums["requests"] += edge["requests"]
            sums["cost"] += edge["cost"]
            for kind in TOKEN_KINDS:
                sums["tokens"][kind] += edge["tokens"][kind]
        return sums

    async def grouped(self, user_id: str, field: str, since: dt.datetime | None = None,
                      until: dt.datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The same sums per distinct ``field`` (model, key_id or group), costliest first."""
        if field not in GROUP_FIELDS:
            raise ValueError(f"cannot group usage by {field!r}")
        pipeline = [await self._match(user_id, since, until),
                    {"$group": {"_id": f"${field}", **_sums()}},
                    {"$sort": {"cost": -1, "requests": -1}},
                    {"$limit": limit}]
        out = []
        async for row in await self.storage.collection("usage").aggregate(pipeline):
            out.append({field: row["_id"], **_shape(row)})
        return out

    async def by_key(self, user_id: str, key_ids: list[str], since: dt.datetime, until: dt.datetime,
                     limit: int = 100) -> list[dict[str, Any]]:
        """``grouped(user_id, "key_id", …)`` read from the roll-ups of ``key_ids`` (the user's
        keys) when they add up to the user's own roll-ups over whole hours; otherwise (usage by
        keys since deleted, a window not on the hour) from the rows."""
        window = split(since, until)
        if not window.edges:
            per_key = await bucket_totals_by_value(self.storage, "key", key_ids, window.buckets)
            mine = await bucket_totals(self.storage, "user", user_id, window.buckets)
            if sum(t["requests"] for t in per_key.values()) == mine["requests"]:
                rows = [{"key_id": key_id, **_rollup_shape(totals)}
                        for key_id, totals in per_key.items() if totals["requests"]]
                rows.sort(key=lambda row: (row["cost"], row["requests"]), reverse=True)
                return rows[:limit]
        return await self.grouped(user_id, "key_id", since, until, limit)

    async def daily(self, user_id: str, since: dt.datetime,
                    until: dt.datetime) -> dict[str, dict[str, Any]]:
        """The same sums per UTC day (``"YYYY-MM-DD"``) of the whole days in ``[since, until)``,
        from the user's daily roll-ups; days without rows are absent (the caller zero-fills)."""
        starts, day = [], since
        while day < until:
            starts.append(day)
            day += DAY
        buckets = await RollupStore(self.storage).buckets("day", starts, "user", user_id)
        return {bucket[:10]: _rollup_shape(totals) for bucket, totals in buckets.items()
                if totals["requests"]}
