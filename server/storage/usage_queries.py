"""Read-only queries over the ``usage`` collection (rows written by
``server.billing.charges.usage_doc``): a user's request log, page by page, and the sums
behind their statistics (in all, per model / key / group, and per UTC day).

Filters start with ``user_id`` so the single-field ``user_id`` index serves them (a compound
``(user_id, ts)`` index made nx-27017 scan the whole collection). Aggregation ``$match``
stages are written as one ``$and`` of simple clauses: nx-27017 0.8.1 evaluates a date range
next to other fields wrongly inside ``$match``, but gets the ``$and`` form right.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.storage.db import Storage

TOKEN_KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "reasoning")
GROUP_FIELDS = ("model", "key_id", "group")
DAY_FORMAT = "%Y-%m-%d"


def _clauses(user_id: str, since: dt.datetime | None = None, until: dt.datetime | None = None,
             **equal: Any) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = [{"user_id": user_id}]
    clauses += [{name: value} for name, value in equal.items() if value is not None]
    if since is not None:
        clauses.append({"ts": {"$gte": since}})
    if until is not None:
        clauses.append({"ts": {"$lt": until}})
    return clauses


def _sums() -> dict[str, Any]:
    sums: dict[str, Any] = {"requests": {"$sum": 1}, "cost": {"$sum": "$cost"}}
    for kind in TOKEN_KINDS:
        sums[kind] = {"$sum": f"$tokens.{kind}"}
    return sums


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    return {"requests": int(row.get("requests", 0)), "cost": int(row.get("cost", 0)),
            "tokens": {kind: int(row.get(kind, 0) or 0) for kind in TOKEN_KINDS}}


class UsageQueries:
    """A user's usage rows and sums over them."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def page(self, user_id: str, *, limit: int, offset: int, key_id: str | None = None,
                   model: str | None = None, since: dt.datetime | None = None,
                   until: dt.datetime | None = None) -> tuple[list[dict[str, Any]], int]:
        """One page of a user's rows, newest first, and how many match in all."""
        clauses = _clauses(user_id, since, until, key_id=key_id, model=model)
        query = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        cursor = self.storage.usage.find(query).sort([("ts", -1), ("_id", -1)]).skip(offset).limit(limit)
        rows = [row async for row in cursor]
        return rows, await self.storage.count("usage", query)

    async def totals(self, user_id: str, since: dt.datetime | None = None,
                     until: dt.datetime | None = None) -> dict[str, Any]:
        """Requests, cost and tokens by kind of a user's rows in ``[since, until)``."""
        pipeline = [{"$match": {"$and": _clauses(user_id, since, until)}},
                    {"$group": {"_id": None, **_sums()}}]
        rows = [row async for row in await self.storage.usage.aggregate(pipeline)]
        return _shape(rows[0] if rows else {})

    async def grouped(self, user_id: str, field: str, since: dt.datetime | None = None,
                      until: dt.datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The same sums per distinct ``field`` (model, key_id or group), costliest first."""
        if field not in GROUP_FIELDS:
            raise ValueError(f"cannot group usage by {field!r}")
        pipeline = [{"$match": {"$and": _clauses(user_id, since, until)}},
                    {"$group": {"_id": f"${field}", **_sums()}},
                    {"$sort": {"cost": -1, "requests": -1}},
                    {"$limit": limit}]
        out = []
        async for row in await self.storage.usage.aggregate(pipeline):
            out.append({field: row["_id"], **_shape(row)})
        return out

    async def daily(self, user_id: str, since: dt.datetime,
                    until: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
        """The same sums per UTC day (``"YYYY-MM-DD"``) of a user's rows in ``[since, until)``;
        days without rows are absent (the caller zero-fills the days it shows)."""
        # Grouped in the database so a busy account's chart costs one small answer per day,
        # not a scan of thousands of rows by the dashboard. ``$dateToString`` without a
        # ``timezone`` is UTC, the time zone of every period in the statistics.
        pipeline = [{"$match": {"$and": _clauses(user_id, since, until)}},
                    {"$group": {"_id": {"$dateToString": {"format": DAY_FORMAT, "date": "$ts"}},
                                **_sums()}}]
        out: dict[str, dict[str, Any]] = {}
        async for row in await self.storage.usage.aggregate(pipeline):
            out[str(row["_id"])] = _shape(row)
        return out
