"""The pieces under the request log: rows milliseconds apart page exactly in every filter form,
the server's form is detected (and not settled before a row can prove it), MongoDB gets plain
flat filters, and a roll-up window covers its span exactly once."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from server.embedded_db import EmbeddedMongo
from server.storage.db import Storage
from server.storage.usage_filters import TimeForm, UsageFilter, UsageFilters, nx_text
from server.storage.usage_windows import DAY, HOUR, split
from tests.accounts_support import account, usage_record

UTC = dt.timezone.utc
MS = dt.timedelta(milliseconds=1)


@pytest.fixture(scope="module")
async def dense(relay):
    """40 rows 137 ms apart (several in one second), every fourth sharing the previous one's time."""
    deps = relay.deps
    async with relay.client() as http:
        acct = await account(http)
        key = (await acct.post("/api/user/keys", {"name": "d"})).json()
        start = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=1, seconds=3)
        times, t = [], start
        for i in range(40):
            t = t if i % 4 == 3 else t + 137 * MS
            times.append(t)
        records = [await usage_record(deps, acct.id, key["id"], ts=t) for t in times]
        docs = await deps.charges.charge_many(records)
        order = [d["_id"] for d in sorted(docs, key=lambda d: (d["ts"], d["request_id"]), reverse=True)]
        yield {"acct": acct, "docs": docs, "order": order, "filters": deps.stats.usage.filters}


async def _walk(acct, limit: int, **params) -> tuple[list[str], set[int]]:
    ids, totals, before = [], set(), None
    while True:
        page = {"limit": limit, **params, **({"before": before} if before else {})}
        r = await acct.get("/api/user/logs", params=page)
        assert r.status_code == 200, r.text
        body = r.json()
        ids += [row["id"] for row in body["data"]]
        totals.add(body["total"])
        before = body["next_cursor"]
        if before is None:
            return ids, totals


@pytest.mark.parametrize("form", [TimeForm.TEXT, TimeForm.SCAN])
async def test_rows_milliseconds_apart_page_exactly(dense, form, monkeypatch):
    monkeypatch.setattr(dense["filters"], "_form", form)
    acct, docs, order = dense["acct"], dense["docs"], dense["order"]
    for limit in (1, 3, 5):
        ids, totals = await _walk(acct, limit)
        assert ids == order and totals == {len(order)}, (form, limit)
    # Bounds with milliseconds, inside a second that holds other rows: from inclusive, to exclusive.
    since, until = docs[9]["ts"], docs[30]["ts"] + MS
    inside = [i for i in order if since <= next(d["ts"] for d in docs if d["_id"] == i) < until]
    ids, totals = await _walk(acct, 4, **{"from": since.isoformat(), "to": until.isoformat()})
    assert ids == inside and totals == {len(inside)} and 0 < len(inside) < len(order)
    r = await acct.get("/api/user/logs", params={"offset": 7, "limit": 6})
    assert [row["id"] for row in r.json()["data"]] == order[7:13]


async def test_form_waits_for_a_row_to_prove_the_date_text(tmp_path):
    # A server of its own: nx-27017 keeps every database of one file in the same tables.
    db = EmbeddedMongo(tmp_path)
    await db.start(timeout=30)
    storage = Storage.connect(db.url, "t_forms")
    try:
        filters = UsageFilters(storage)
        assert await filters.form() is TimeForm.SCAN and filters._form is None  # asked again later
        when = dt.datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
        await storage.db.usage.insert_one({"_id": "req_1", "request_id": "req_1", "user_id": "u", "ts": when})
        assert await filters.form() is TimeForm.TEXT
        assert await storage.db.usage.find_one({"ts": {"$eq": nx_text(when)}}) is not None
        assert await storage.db.usage.find_one({"ts": {"$lt": nx_text(when)}}) is None
        assert await storage.db.usage.find_one({"ts": {"$lt": nx_text(when + MS)}}) is not None
        whole = when.replace(microsecond=0)  # isoformat drops ".000000": still in time order
        assert nx_text(whole) == '{"$date":"2026-01-02T03:04:05"}' and nx_text(whole) < nx_text(when)
    finally:
        await storage.close()
        db.stop()


async def test_mongodb_gets_flat_filters_with_dates():
    filters = UsageFilters(storage=None)  # type: ignore[arg-type]
    filters._form = TimeForm.NATIVE
    since = dt.datetime(2026, 1, 1, 0, 0, 0, 123_456, tzinfo=UTC)
    until = dt.datetime(2026, 2, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    query = await filters.query(UsageFilter("u", key_id="k", model="m", since=since, until=until))
    assert query == {"user_id": {"$eq": "u"}, "key_id": {"$eq": "k"}, "model": {"$eq": "m"},
                     "ts": {"$gte": since.replace(microsecond=123_000), "$lt": until}}
    at = await filters.query(UsageFilter("u"), at=since, below="req_9")
    assert at == {"user_id": {"$eq": "u"}, "request_id": {"$lt": "req_9"},
                  "ts": {"$eq": since.replace(microsecond=123_000)}}
    filters._form = TimeForm.TEXT
    text = await filters.query(UsageFilter("u", until=until))
    assert text == {"user_id": {"$eq": "u"}, "ts": {"$lt": '{"$date":"2026-01-31T16:00:00"}'}}


def test_window_covers_its_span_once():
    rng = random.Random(7)
    base = dt.datetime(2026, 3, 1, tzinfo=UTC)
    spans = [(base, base), (base, base + HOUR), (base + 5 * MS, base + 7 * MS), (base, base + 3 * DAY)]
    spans += [(base + dt.timedelta(minutes=rng.randrange(0, 5 * 1440)) + rng.randrange(1000) * MS,
               base + dt.timedelta(minutes=rng.randrange(0, 5 * 1440))) for _ in range(300)]
    for lo, hi in spans:
        window = split(lo, hi)
        pieces = list(window.edges) + [(start, start + (HOUR if period == "hour" else DAY))
                                       for period, start in window.buckets]
        for period, start in window.buckets:
            step = HOUR if period == "hour" else DAY
            assert start.timestamp() % step.total_seconds() == 0
        pieces.sort()
        if lo >= hi:
            assert pieces == []
            continue
        assert pieces[0][0] == lo and pieces[-1][1] == hi
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:])), (lo, hi)
        assert sum(1 for a, b in window.edges) <= 2
        assert len(window.buckets) <= 48 + (hi - lo).days + 1
