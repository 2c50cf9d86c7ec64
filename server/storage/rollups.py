"""Hourly and daily usage totals in ``rollups``, kept current as usage is written.

Each usage flush adds its fresh rows to the buckets they fall in with ``$inc`` (one bulk write),
per dimension (user, key, model, account, group, and ``all``), so dashboards read a handful of
small documents instead of scanning raw usage — which on the embedded database means a
Python-side scan of the whole collection. ``server.storage.rollup_recompute.roll_up`` can recompute a
bucket from the raw rows (same ids, absolute values) to repair drift. Document::

    {_id: "<period>:<bucket iso>:<dim>:<value>", period: "hour" | "day", bucket: ISO string (UTC),
     dim, value, requests, errors, cost, upstream_cost, tokens_input, tokens_output, …, updated_at}
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from pymongo import UpdateOne

from server.storage.db import Storage

DIMENSIONS = {"user": "user_id", "key": "key_id", "model": "model", "account": "account_id",
              "group": "group", "all": None}
TOKEN_KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "reasoning")
PERIODS = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def bucket_start(when: dt.datetime, period: str) -> dt.datetime:
    """The start of the hour or (UTC) day containing ``when``."""
    when = when.astimezone(dt.timezone.utc)
    if period == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def rollup_id(period: str, bucket: dt.datetime, dim: str, value: Any) -> str:
    return f"{period}:{bucket.isoformat()}:{dim}:{value}"


def empty() -> dict[str, Any]:
    return {"requests": 0, "errors": 0, "cost": 0, "upstream_cost": 0, "tokens": {k: 0 for k in TOKEN_KINDS}}


def count_row(inc: dict[str, int], doc: dict[str, Any]) -> None:
    """Add one usage row to a bucket's totals, in the stored (flat) field names: nx-27017
    upserts a dotted ``$inc`` as a literal "a.b" key, so tokens are ``tokens_<kind>``."""
    inc["requests"] = inc.get("requests", 0) + 1
    inc["errors"] = inc.get("errors", 0) + (0 if doc.get("outcome") == "ok" else 1)
    inc["cost"] = inc.get("cost", 0) + int(doc.get("cost") or 0)
    inc["upstream_cost"] = inc.get("upstream_cost", 0) + int(doc.get("base_cost") or 0)
    for kind, n in (doc.get("tokens") or {}).items():
        inc[f"tokens_{kind}"] = inc.get(f"tokens_{kind}", 0) + int(n or 0)


class RollupStore:
    """Adds usage to its buckets and reads the buckets back."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def add(self, docs: Iterable[dict[str, Any]]) -> None:
        """Count fresh usage rows (never a row twice: callers pass only newly inserted rows)."""
        sums: dict[tuple[str, dt.datetime, str, Any], dict[str, int]] = {}
        for doc in docs:
            for period in PERIODS:
                bucket = bucket_start(doc["ts"], period)
                for dim, field in DIMENSIONS.items():
                    value = "all" if field is None else doc.get(field)
                    if value is None:
                        continue
                    count_row(sums.setdefault((period, bucket, dim, value), {}), doc)
        if not sums:
            return
        now = dt.datetime.now(dt.timezone.utc)
        await self.storage.collection("rollups").bulk_write([
            UpdateOne({"_id": rollup_id(period, bucket, dim, value)},
                      {"$inc": inc, "$set": {"period": period, "bucket": bucket.isoformat(), "dim": dim,
                                             "value": value, "updated_at": now}}, upsert=True)
            for (period, bucket, dim, value), inc in sums.items()], ordered=False)

    async def buckets(self, period: str, starts: list[dt.datetime], dim: str = "all",
                      value: Any = "all") -> dict[str, dict[str, Any]]:
        """Bucket start (ISO) → totals, for one dimension value (missing buckets are absent)."""
        ids = [rollup_id(period, bucket_start(s, period), dim, value) for s in starts]
        rows = self.storage.collection("rollups").find({"_id": {"$in": ids}})
        return {doc["bucket"]: _shape(doc) async for doc in rows}

    async def top(self, period: str, start: dt.datetime, dim: str, limit: int = 0) -> list[dict[str, Any]]:
        """Every value of ``dim`` in one bucket, most cost first."""
        query = {"$and": [{"period": period}, {"bucket": bucket_start(start, period).isoformat()},
                          {"dim": dim}]}
        cursor = self.storage.collection("rollups").find(query).sort([("cost", -1), ("requests", -1)])
        if limit:
            cursor = cursor.limit(limit)
        return [{"value": doc["value"], **_shape(doc)} async for doc in cursor]


def totals_of(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored bucket as totals shaped like ``empty()``."""
    return _shape(doc)


def _shape(doc: dict[str, Any]) -> dict[str, Any]:
    out = empty()
    for name in ("requests", "errors", "cost", "upstream_cost"):
        out[name] = int(doc.get(name) or 0)
    out["tokens"] = {k: int(doc.get(f"tokens_{k}") or 0) for k in TOKEN_KINDS}
    return out


def flat(totals: dict[str, Any]) -> dict[str, Any]:
    """Totals as stored: token counts as top-level ``tokens_<kind>`` fields."""
    out = {k: v for k, v in totals.items() if k != "tokens"}
    out.update({f"tokens_{k}": v for k, v in (totals.get("tokens") or {}).items()})
    return out
