"""The request log when nx-27017's date text is not proven (``TimeForm.SCAN``): times are
filtered in Python.

nx-27017 reads a date in a filter through SQLite ``datetime()``, to the whole second, so a row's
own time (a cursor, the ends of a roll-up window) or a ``from`` with milliseconds cannot be a
bound there. Here the server is asked only for the equality part, which its indexes serve in log
order, and times, cursor and offset are applied while the rows stream in: exact, and as slow as
the log was before keyset pages (every row newer than the page is read).
"""

from __future__ import annotations

from typing import Any

from server.storage.db import Storage
from server.storage.usage_cursor import ORDER, LogCursor
from server.storage.usage_filters import UsageFilter, UsageFilters, to_millis

BATCH = 500


async def scan_rows(storage: Storage, filt: UsageFilter, *, limit: int, offset: int = 0,
                    before: LogCursor | None = None) -> list[dict[str, Any]]:
    """Up to ``limit`` matching rows in log order, after ``before`` or from ``offset``."""
    since = None if filt.since is None else to_millis(filt.since)
    out: list[dict[str, Any]] = []
    skipped = 0
    cursor = storage.collection("usage").find(UsageFilters.fields(filt)).sort(ORDER).batch_size(BATCH)
    try:
        async for row in cursor:
            ts = row["ts"]
            if since is not None and ts < since:
                break  # older rows only from here on
            if not filt.admits(ts):
                continue
            if before is not None and (ts, row["request_id"]) >= (before.ts, before.id):
                continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(row)
            if len(out) >= limit:
                break
    finally:
        await cursor.close()
    return out


async def scan_count(storage: Storage, filt: UsageFilter) -> int:
    """How many rows match, counted as they stream in (times only)."""
    since = None if filt.since is None else to_millis(filt.since)
    count = 0
    usage = storage.collection("usage")
    cursor = usage.find(UsageFilters.fields(filt), {"ts": 1, "_id": 0}).sort([("ts", -1)])
    cursor = cursor.batch_size(BATCH)
    try:
        async for row in cursor:
            if since is not None and row["ts"] < since:
                break
            count += filt.admits(row["ts"])
    finally:
        await cursor.close()
    return count
