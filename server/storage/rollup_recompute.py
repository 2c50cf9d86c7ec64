"""Hourly and daily roll-ups of the ``usage`` rows into ``rollups``, kept after retention
deletes the raw rows. Document::

    {_id: "<period>:<bucket iso>:<dim>:<value>", period: "hour" | "day", bucket: ISO string (UTC),
     dim: "user" | "key" | "model" | "account" | "group", value, requests, errors, cost,
     upstream_cost, tokens_input, tokens_output, tokens_cache_write_5m, …, updated_at}

A bucket is recomputed from scratch and written with ``$set`` under a deterministic ``_id``,
so running a roll-up twice (or from two processes) gives the same documents. The hourly job
(``server.jobs.tasks``) calls ``roll_up_recent``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymongo import UpdateOne

from server.storage.db import Storage
from server.storage.ledger import utcnow
from server.storage.rollups import DIMENSIONS as _DIMENSIONS  # noqa: F401
from server.storage.rollups import PERIODS, TOKEN_KINDS, bucket_start, count_row, flat
from server.storage.usage_filters import UsageFilters

# The recompute (repair) path; the live path is server.storage.rollups.RollupStore.add.
DIMENSIONS = {k: v for k, v in _DIMENSIONS.items() if v is not None}


def usage_sums() -> dict[str, Any]:
    """``$group`` accumulators of a recompute by aggregation."""
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
    rows = await storage.collection("usage").aggregate(pipeline)
    return [{"value": row["_id"], **shape(row)} async for row in rows]


SLICE = dt.timedelta(minutes=5)
MARKER = "rollups_recomputed"  # settings document: the last hour recomputed
PROJECTION = {"_id": 0, "outcome": 1, "cost": 1, "base_cost": 1, "tokens": 1,
              **{field: 1 for field in DIMENSIONS.values()}}


async def _sums_by_reading(storage: Storage, filters: UsageFilters, start: dt.datetime,
                           end: dt.datetime) -> dict[tuple[str, Any], dict[str, int]] | None:
    """Every dimension's totals over ``[start, end)`` (stored field names) from one
    index-served read of the rows, five minutes at a time: on the embedded database an
    aggregation scans the whole collection once per dimension (seconds with a few hundred
    thousand rows, during which every other client of that database waits), while these reads
    only touch the window's rows and leave gaps for other clients. None where the server's date
    form is unproven (then aggregate)."""
    sums: dict[tuple[str, Any], dict[str, int]] = {}
    cursor_start = start
    while cursor_start < end:
        cursor_end = min(end, cursor_start + SLICE)
        query = await filters.ts_range(cursor_start, cursor_end)
        if query is None:
            return None
        async for row in storage.collection("usage").find(query, PROJECTION):
            for dim, field in DIMENSIONS.items():
                value = row.get(field)
                if value is not None:
                    count_row(sums.setdefault((dim, value), {}), row)
        cursor_start = cursor_end
    return sums


async def roll_up(storage: Storage, period: str, bucket: dt.datetime,
                  filters: UsageFilters | None = None) -> int:
    """Recompute every dimension of one bucket; returns how many documents were written."""
    start = bucket_start(bucket, period)
    end = start + PERIODS[period]
    now = utcnow()
    sums = await _sums_by_reading(storage, filters or UsageFilters(storage), start, end)
    if sums is None:
        sums = {}
        for dim, field in DIMENSIONS.items():
            for row in await grouped(storage, start, end, field):
                value = row.pop("value")
                if value is not None:
                    sums[(dim, value)] = flat(row)
    # A recompute sets every field: a token kind no row of the bucket used is zero, not absent.
    zero = {f"tokens_{kind}": 0 for kind in TOKEN_KINDS}
    ops = [UpdateOne({"_id": f"{period}:{start.isoformat()}:{dim}:{value}"},
                     {"$set": {"period": period, "bucket": start.isoformat(), "dim": dim, "value": value,
                               **zero, **totals, "updated_at": now}}, upsert=True)
           for (dim, value), totals in sums.items()]
    if ops:
        await storage.collection("rollups").bulk_write(ops, ordered=False)
    return len(ops)


async def roll_up_recent(storage: Storage, now: dt.datetime | None = None,
                         filters: UsageFilters | None = None) -> dict[str, Any]:
    """Recompute the hour that just closed from its raw rows (late rows, drift), once: live
    totals are added as usage is written, and rereading an hour of a busy relay's rows every few
    minutes would keep the embedded database busy. Days are never rescanned here."""
    now = now or utcnow()
    hour = bucket_start(now, "hour") - PERIODS["hour"]
    marker = await storage.collection("settings").find_one({"_id": MARKER})
    if marker is not None and marker.get("hour") == hour.isoformat():
        return {"written": 0, "hour": hour.isoformat(), "already": True}
    written = await roll_up(storage, "hour", hour, filters)
    await storage.collection("settings").update_one({"_id": MARKER}, {"$set": {"hour": hour.isoformat()}},
                                                    upsert=True)
    return {"written": written, "hour": hour.isoformat(), "already": False}

