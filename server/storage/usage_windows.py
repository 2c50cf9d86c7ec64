"""A time window read from the roll-ups: whole UTC days and hours from their buckets, and only
the partial hours at its two ends from raw usage rows.

A user's totals over 30 days are then ~30 small documents and at most two hours of rows, not a
scan of every row (which on the embedded database means reading each row's JSON). Bucket ids
are deterministic (``server.storage.rollups.rollup_id``), so one ``_id $in`` query fetches them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from server.storage.db import Storage
from server.storage.rollups import PERIODS, empty, rollup_id, totals_of

HOUR = PERIODS["hour"]
DAY = PERIODS["day"]


def floor_to(when: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """The start of the UTC hour or day containing ``when``."""
    when = when.astimezone(dt.timezone.utc)
    if step == DAY:
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    return when.replace(minute=0, second=0, microsecond=0)


def ceil_to(when: dt.datetime, step: dt.timedelta) -> dt.datetime:
    start = floor_to(when, step)
    return start if start == when else start + step


@dataclass
class Window:
    """``[lo, hi)`` as raw edge ranges plus whole ``(period, start)`` buckets."""

    edges: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    buckets: list[tuple[str, dt.datetime]] = field(default_factory=list)


def split(lo: dt.datetime, hi: dt.datetime) -> Window:
    """Cut ``[lo, hi)`` into partial hours at the ends, whole hours up to and after whole days,
    and whole days in between."""
    window = Window()
    h0, h1 = ceil_to(lo, HOUR), floor_to(hi, HOUR)
    if h0 >= h1:
        if lo < hi:
            window.edges.append((lo, hi))
        return window
    if lo < h0:
        window.edges.append((lo, h0))
    if h1 < hi:
        window.edges.append((h1, hi))
    d0, d1 = ceil_to(h0, DAY), floor_to(h1, DAY)
    if d0 >= d1:
        d0 = d1 = h1
    hour = h0
    while hour < d0:
        window.buckets.append(("hour", hour))
        hour += HOUR
    day = d0
    while day < d1:
        window.buckets.append(("day", day))
        day += DAY
    hour = d1
    while hour < h1:
        window.buckets.append(("hour", hour))
        hour += HOUR
    return window


def add_totals(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Sum ``more`` into ``into`` (both shaped like ``rollups.empty()``)."""
    for name, value in more.items():
        if name == "tokens":
            tokens = into.setdefault("tokens", {})
            for kind, n in value.items():
                tokens[kind] = tokens.get(kind, 0) + int(n or 0)
        else:
            into[name] = into.get(name, 0) + int(value or 0)
    return into


async def bucket_totals(storage: Storage, dim: str, value: str,
                        buckets: list[tuple[str, dt.datetime]]) -> dict[str, Any]:
    """The summed roll-ups of ``dim = value`` over ``buckets`` (missing buckets count as zero)."""
    return (await bucket_totals_by_value(storage, dim, [value], buckets))[value]


async def bucket_totals_by_value(storage: Storage, dim: str, values: list[str],
                                 buckets: list[tuple[str, dt.datetime]]) -> dict[str, dict[str, Any]]:
    """The same for several values of one dimension, in one query: value -> totals."""
    totals = {value: empty() for value in values}
    if not buckets or not values:
        return totals
    ids = [rollup_id(period, start, dim, value) for value in values for period, start in buckets]
    async for doc in storage.collection("rollups").find({"_id": {"$in": ids}}):
        if doc.get("value") in totals:
            add_totals(totals[doc["value"]], totals_of(doc))
    return totals
