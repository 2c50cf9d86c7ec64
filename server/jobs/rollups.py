"""Hourly and daily roll-ups of the ``usage`` rows into ``rollups``, kept after retention
deletes the raw rows. Document::

    {_id: "<period>:<bucket iso>:<dim>:<value>", period: "hour" | "day", bucket: ISO string (UTC),
     dim: "user" | "key" | "model" | "account" | "group", value, requests, errors, cost,
     upstream_cost, tokens: {input, output, cache_write_5m, cache_write_1h, cache_read, reasoning},
     updated_at}

A bucket is recomputed from scratch and written with ``$set`` under a deterministic ``_id``,
so running a roll-up twice (or from two processes) gives the same documents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymongo import UpdateOne

from server.storage.db import Storage
from server.storage.ledger import utcnow

DIMENSIONS = {"user": "user_id", "key": "key_id", "model": "model", "account": "account_id", "group": "group"}
TOKEN_KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "reasoning")
PERIODS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def bucket_start(when: dt.datetime, period: str) -> dt.datetime:
    """The start of the hour or (UTC) day containing ``when``."""
    when = when.astimezone(dt.timezone.utc)
    if period == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def usage_sums() -> dict[str, Any]:
    """``$group`` accumulators shared by roll-ups and the operator overview."""
    sums: dict[str, Any] = {
        "requests": {"$sum": 1},
        "errors": {"$sum": {"$cond": [{"$eq": ["$outcome", "ok"]}, 0, 1]}},
        "cost": {"$sum": "$cost"},
        # What the upstream charged: the request's cost at list price, without the group's
        # multiplier (an integer stored with each usage row; no division, no floats).
        "upstream_cost": {"$sum": "$base_cost"},
    }
    for kind in TOKEN_KINDS:
        sums[kind] = {"$sum": f"$tokens.{kind}"}
    return sums


def shape(row: dict[str, Any]) -> dict[str, Any]:
    """A ``$group`` row as plain integers."""
    return {"requests": int(row.get("requests") or 0), "errors": int(row.get("errors") or 0),
            "cost": int(row.get("cost") or 0),
            "upstream_cost": int(row.get("upstream_cost") or 0),
            "tokens": {k: int(row.get(k) or 0) for k in TOKEN_KINDS}}


async def grouped(storage: Storage, start: dt.datetime, end: dt.datetime, field: str | None,
                  limit: int = 0, extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Usage sums over ``[start, end)`` per distinct ``field`` (None: one total row)."""
    clauses: list[dict[str, Any]] = [{"ts": {"$gte": start}}, {"ts": {"$lt": end}}, *(extra or [])]
    pipeline: list[dict[str, Any]] = [{"$match": {"$and": clauses}},
                                      {"$group": {"_id": f"${field}" if field else None, **usage_sums()}}]
    if limit:
        pipeline += [{"$sort": {"cost": -1, "requests": -1}}, {"$limit": limit}]
    return [{"value": row["_id"], **shape(row)} async for row in await storage.usage.aggregate(pipeline)]


async def roll_up(storage: Storage, period: str, bucket: dt.datetime) -> int:
    """Recompute every dimension of one bucket; returns how many documents were written."""
    start = bucket_start(bucket, period)
    end = start + PERIODS[period]
    now = utcnow()
    ops = []
    for dim, field in DIMENSIONS.items():
        for row in await grouped(storage, start, end, field):
            value = row.pop("value")
            if value is None:
                continue
            ops.append(UpdateOne(
                {"_id": f"{period}:{start.isoformat()}:{dim}:{value}"},
                {"$set": {"period": period, "bucket": start.isoformat(), "dim": dim, "value": value,
                          **row, "updated_at": now}}, upsert=True))
    if ops:
        await storage.rollups.bulk_write(ops, ordered=False)
    return len(ops)


async def roll_up_recent(storage: Storage, now: dt.datetime | None = None) -> int:
    """The previous and current hour and day (late rows of a closed bucket are caught up)."""
    now = now or utcnow()
    written = 0
    for period, step in PERIODS.items():
        current = bucket_start(now, period)
        for bucket in (current - step, current):
            written += await roll_up(storage, period, bucket)
    return written
