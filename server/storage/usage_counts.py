"""How many rows a request-log filter matches, without counting a heavy user's rows one by one.

- Without a model filter (a user's whole log, one key's, either within dates): from the roll-ups
  of the user (or of the key: a key's rows are all its owner's), over ``[oldest, newest]``
  matching row, found with two index probes.
  Whole hours and days come from their buckets; the partial hours at the two ends are counted
  from rows (at most two hours of them). Taking the ends from the rows themselves keeps rows that
  retention deleted (their roll-ups stay) and rows outside ``from``/``to`` out of the total. The
  total is exact as far as the roll-ups are: every usage flush adds its rows to them and the
  hourly job recomputes the hour that just closed.
- With a model filter (there is no per-user, per-model roll-up): rows are counted, up to
  ``TOTAL_CAP``. A probe at that position in the index tells whether there are more; if there
  are, the total says "at least ``TOTAL_CAP``" (``exact`` false) instead of counting them all.
"""

from __future__ import annotations

import datetime as dt

from server.storage.db import Storage
from server.storage.usage_filters import TimeForm, UsageFilter, UsageFilters
from server.storage.usage_scan import scan_count
from server.storage.usage_windows import bucket_totals, split

TOTAL_CAP = 10_000
# A window this long (in buckets: ~13 years of days) is counted from rows instead: only a row
# stamped absurdly far from the others could stretch it so.
MAX_BUCKETS = 5_000
MS = dt.timedelta(milliseconds=1)


class UsageCounter:
    """Totals for the request log."""

    def __init__(self, storage: Storage, filters: UsageFilters) -> None:
        self.storage = storage
        self.filters = filters

    async def total(self, filt: UsageFilter) -> tuple[int, bool]:
        """How many rows match, and whether that is exact (else: at least that many)."""
        if await self.filters.form() is TimeForm.SCAN:
            return await scan_count(self.storage, filt), True
        if filt.model is None:
            return await self._from_rollups(filt), True
        return await self._capped(filt)

    async def count(self, filt: UsageFilter) -> int:
        """Matching rows counted one by one (only ever over a bounded range). The ``count``
        command, not ``$count``: nx-27017 answers it with one SQL ``COUNT`` over the index, while
        every aggregation first counts the whole collection."""
        query = await self.filters.query(filt)
        reply = await self.storage.db.command({"count": "usage", "query": query})
        return int(reply["n"])

    async def end(self, filt: UsageFilter, direction: int) -> dt.datetime | None:
        """The oldest (1) or newest (-1) matching row's time, None if nothing matches."""
        usage = self.storage.collection("usage")
        row = await usage.find_one(await self.filters.query(filt), {"ts": 1, "_id": 0},
                                   sort=[("ts", direction)])
        return None if row is None else row["ts"]

    async def _from_rollups(self, filt: UsageFilter) -> int:
        oldest = await self.end(filt, 1)
        if oldest is None:
            return 0
        newest = await self.end(filt, -1)
        assert newest is not None
        window = split(oldest, newest + MS)
        if len(window.buckets) > MAX_BUCKETS:
            return await self.count(filt)
        dim, value = ("key", filt.key_id) if filt.key_id is not None else ("user", filt.user_id)
        total = (await bucket_totals(self.storage, dim, value, window.buckets))["requests"]
        for lo, hi in window.edges:
            total += await self.count(filt.within(lo, hi))
        return total

    async def _capped(self, filt: UsageFilter) -> tuple[int, bool]:
        query = await self.filters.query(filt)
        usage = self.storage.collection("usage")
        beyond = await usage.find_one(query, {"ts": 1, "_id": 0}, sort=[("ts", -1)],
                                      skip=TOTAL_CAP)
        if beyond is not None:
            return TOTAL_CAP, False
        return await self.count(filt), True
