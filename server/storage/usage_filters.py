"""Filters over ``usage`` written so that MongoDB and the embedded nx-27017 both answer them
from an index, and both answer them exactly.

MongoDB takes ``{"user_id": {"$eq": u}, "ts": {"$gte": a, "$lt": b}}`` as it is. nx-27017 0.8.1
stores a date inside its JSON column as the text ``{"$date":"<ISO 8601, no offset>"}`` and turns a
flat filter into SQL over its expression indexes, except that (measured, and read in its source):

- a ``datetime`` value in ``find`` goes through SQLite ``datetime()``: whole seconds, no index, and
  every match loaded before sort and limit; inside ``$match`` it is compared with the wrong text;
- ``$and``/``$or`` send the whole filter to a Python scan of the collection;
- a plain ``{"f": v}`` on a field without a single-field index gains an array-containment ``OR``
  that defeats the index, while ``{"f": {"$eq": v}}`` stays a plain ``=``.

So on nx-27017 a bound on ``ts`` is written as that same text (ISO 8601 in one time zone compares
in time order as text; ``"…:50"`` sorts before ``"…:50.4"`` because ``"`` sorts before ``.``),
and filters stay flat with ``$eq``. Which form a server needs is found once per process:
``buildInfo`` names nx-27017, and one stored row is read back by its date written as text to prove
the storage format. Without that proof (an nx-27017 that stores dates otherwise, or no row yet)
the log filters times in Python (``server.storage.usage_scan``): exact, but slow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from dataclasses import dataclass, replace
from typing import Any

from server.storage.db import Storage
from server.storage.exact import exact_eq

NX_PROCESS = "nx_27017"


class TimeForm(enum.Enum):
    """How a filter on ``ts`` is written for the server at hand."""

    NATIVE = "native"  # MongoDB: BSON dates, flat filter
    TEXT = "text"      # nx-27017 with its date text proven: text bounds, flat filter
    SCAN = "scan"      # nx-27017 otherwise: see ``server.storage.usage_scan``


def to_millis(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC, cut to the millisecond a BSON date keeps (as pymongo does on writing)."""
    when = when.astimezone(dt.timezone.utc)
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def nx_text(when: dt.datetime) -> str:
    """``when`` as nx-27017 0.8.1 keeps a BSON date in its JSON column (as ``json_extract`` returns it)."""
    return '{"$date":"' + to_millis(when).replace(tzinfo=None).isoformat() + '"}'


@dataclass(frozen=True)
class UsageFilter:
    """Which of a user's rows: optionally one key, one model and ``since <= ts < until``."""

    user_id: str
    key_id: str | None = None
    model: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def within(self, since: dt.datetime | None, until: dt.datetime | None) -> "UsageFilter":
        """The same filter narrowed to ``[since, until)`` as well."""
        lo = max((t for t in (self.since, since) if t is not None), default=None)
        hi = min((t for t in (self.until, until) if t is not None), default=None)
        return replace(self, since=lo, until=hi)

    def admits(self, when: dt.datetime) -> bool:
        """True if a row at ``when`` is inside the time range."""
        return (self.since is None or when >= to_millis(self.since)) and \
            (self.until is None or when < to_millis(self.until))


class UsageFilters:
    """Builds ``usage`` filters in the form the connected server answers fast and exactly."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._form: TimeForm | None = None
        self._lock = asyncio.Lock()

    async def form(self) -> TimeForm:
        """The form for this server, found on first use (and again while there is no row to prove it)."""
        if self._form is None:
            async with self._lock:
                if self._form is None:
                    self._form = await self._detect()
        return self._form or TimeForm.SCAN

    async def _detect(self) -> TimeForm | None:
        info = await self.storage.db.command("buildInfo")
        if info.get("process") != NX_PROCESS:
            return TimeForm.NATIVE
        row = await self.storage.collection("usage").find_one({}, {"ts": 1})
        if row is None or not isinstance(row.get("ts"), dt.datetime):
            return None  # nothing to prove it on yet: SCAN for now, ask again next time
        proof = await self.storage.collection("usage").find_one(
            {"_id": row["_id"], "ts": {"$eq": nx_text(row["ts"])}}, {"_id": 1})
        return TimeForm.TEXT if proof is not None else TimeForm.SCAN

    @staticmethod
    def fields(filt: UsageFilter) -> dict[str, Any]:
        """The equality part of ``filt`` (no times): flat and ``$eq``, index-served everywhere."""
        fields: dict[str, Any] = {"user_id": {"$eq": filt.user_id}}
        if filt.key_id is not None:
            fields["key_id"] = {"$eq": filt.key_id}
        if filt.model is not None:
            fields["model"] = exact_eq(filt.model)
        return fields

    async def ts_range(self, since: dt.datetime, until: dt.datetime) -> dict[str, Any] | None:
        """``since <= ts < until`` over every user's rows, index-served; None in the ``SCAN`` form
        (the caller then falls back to an aggregation)."""
        form = await self.form()
        if form is TimeForm.SCAN:
            return None
        conv = nx_text if form is TimeForm.TEXT else to_millis
        return {"ts": {"$gte": conv(since), "$lt": conv(until)}}

    async def query(self, filt: UsageFilter, *, at: dt.datetime | None = None,
                    below: str | None = None) -> dict[str, Any]:
        """The filter for ``filt``'s rows; only those at exactly ``at`` if given, and only those
        whose ``request_id`` sorts before ``below`` if given. In the ``SCAN`` form nx-27017 reads
        the dates itself, to the whole second: exact only for bounds on a whole second (callers
        with finer bounds filter times in Python, see ``server.storage.usage_scan``)."""
        form = await self.form()
        fields = self.fields(filt)
        if below is not None:
            fields["request_id"] = {"$lt": below}
        bounds: dict[str, dt.datetime] = {}
        if at is not None:
            bounds["$eq"] = at
        else:
            if filt.since is not None:
                bounds["$gte"] = filt.since
            if filt.until is not None:
                bounds["$lt"] = filt.until
        if form is TimeForm.SCAN:
            clauses = [{name: value} for name, value in fields.items()]
            clauses += [{"ts": {op: to_millis(when)}} for op, when in bounds.items()]
            return {"$and": clauses}
        if bounds:
            fields["ts"] = {op: nx_text(when) if form is TimeForm.TEXT else to_millis(when)
                            for op, when in bounds.items()}
        return fields
