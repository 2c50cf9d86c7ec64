"""The request log page by page over HTTP: keyset cursors (``before`` = ``next_cursor``) and
offsets walk the whole log in order with no duplicate and no gap, also through runs of rows
sharing one millisecond and with every filter; totals come from the roll-ups plus the partial
hours at the ends, so rows deleted by retention are not counted; a cursor the API did not give
is a 400. Rows are charged through the real ``ChargeService`` (which keeps the roll-ups)."""

from __future__ import annotations

import datetime as dt

import pytest

from server.pricing.usage import Usage
from server.storage import usage_counts
from server.storage.usage_cursor import LogCursor
from server.storage.usage_filters import TimeForm
from tests.accounts_support import account, usage_record

UTC = dt.timezone.utc
ROWS = 240
TIE = 4          # rows sharing each millisecond
STEP = dt.timedelta(minutes=71)  # between tie groups: 60 groups span ~3 days, so whole days too


def _order(rows: list[dict]) -> list[str]:
    """Request ids newest first, ties by request id descending: the log's order."""
    return [r["_id"] for r in sorted(rows, key=lambda r: (r["ts"], r["request_id"]), reverse=True)]


@pytest.fixture(scope="module")
async def log_world(relay):
    deps = relay.deps
    async with relay.client() as http:
        acct, other = await account(http), await account(http)
        k1 = (await acct.post("/api/user/keys", {"name": "main"})).json()
        k2 = (await acct.post("/api/user/keys", {"name": "ci", "group": "codex"})).json()
        ko = (await other.post("/api/user/keys", {"name": "o"})).json()
        now = dt.datetime.now(UTC)
        base = now.replace(minute=37, second=12, microsecond=345_000) - dt.timedelta(hours=2)
        records = []
        for i in range(ROWS):
            ts = base - (i // TIE) * STEP
            if i % 5 == 0:
                key, model, group = k2, "gpt-5.4", "codex"
            else:
                key, model, group = k1, ("claude-opus-4-1" if i % 3 == 0 else "claude-sonnet-4-5"), "claude"
            records.append(await usage_record(deps, acct.id, key["id"], model=model, group=group, ts=ts,
                                              usage=Usage(input=10 + i, output=5), key_name=key["name"]))
        for i in range(30):  # another user's rows at the same times: never in acct's log
            records.append(await usage_record(deps, other.id, ko["id"], ts=base - (i // TIE) * STEP))
        docs = await deps.charges.charge_many(records)
        mine = [d for d in docs if d["user_id"] == acct.id]
        yield {"acct": acct, "other": other, "k1": k1, "k2": k2, "rows": mine, "deps": deps, "base": base}


async def _get(acct, **params) -> dict:
    r = await acct.get("/api/user/logs", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _walk(acct, limit: int, **params) -> tuple[list[str], list[dict]]:
    """Every page from the first via ``next_cursor``: the ids in order, and the page bodies."""
    ids, pages, before = [], [], None
    while True:
        body = await _get(acct, limit=limit, **params, **({"before": before} if before else {}))
        pages.append(body)
        ids += [row["id"] for row in body["data"]]
        before = body["next_cursor"]
        if before is None:
            return ids, pages
        assert len(body["data"]) == limit and len(pages) <= ROWS


async def test_embedded_database_is_asked_in_its_fast_form(log_world):
    """nx-27017 keeps dates as text the filters can use; if it stops doing so the log falls back
    to the exact but slow form, and this test says so."""
    assert await log_world["deps"].stats.usage.filters.form() is TimeForm.TEXT


@pytest.mark.parametrize("limit", [1, 3, 4, 7, 100, 500])
async def test_cursor_pages_walk_the_whole_log_once(log_world, limit):
    expected = _order(log_world["rows"])
    assert len(set(r["ts"] for r in log_world["rows"])) == ROWS // TIE
    ids, pages = await _walk(log_world["acct"], limit)
    assert ids == expected
    assert all(p["total"] == ROWS and p["total_exact"] is True and p["offset"] == 0 for p in pages)
    assert len(pages) == -(-ROWS // limit)  # the last page says so itself: no empty page after it


async def test_offset_pages_are_slices_of_the_same_order(log_world):
    expected = _order(log_world["rows"])
    acct = log_world["acct"]
    for offset, limit in ((0, 10), (5, 10), (37, 9), (233, 10), (239, 5), (240, 5), (1000, 5)):
        body = await _get(acct, offset=offset, limit=limit)
        assert [r["id"] for r in body["data"]] == expected[offset:offset + limit], (offset, limit)
        assert body["total"] == ROWS and body["offset"] == offset
        assert (body["next_cursor"] is None) == (offset + limit >= ROWS)
    # An offset page's cursor continues where it ends.
    body = await _get(acct, offset=37, limit=9)
    after = await _get(acct, limit=9, before=body["next_cursor"])
    assert [r["id"] for r in after["data"]] == expected[46:55]


def _matches(row: dict, key=None, model=None, since=None, until=None) -> bool:
    return ((key is None or row["key_id"] == key) and (model is None or row["model"] == model)
            and (since is None or row["ts"] >= since) and (until is None or row["ts"] < until))


async def test_filters_with_cursors_and_totals(log_world):
    rows, acct, base = log_world["rows"], log_world["acct"], log_world["base"]
    k1, k2 = log_world["k1"]["id"], log_world["k2"]["id"]
    # Bounds inside hours and on a row's exact time (from is inclusive, to exclusive).
    since = base - 40 * STEP + dt.timedelta(minutes=13)
    until = base - 5 * STEP
    cases = [({"key": k2}, dict(key=k2)),
             ({"model": "claude-opus-4-1"}, dict(model="claude-opus-4-1")),
             ({"from": since.isoformat(), "to": until.isoformat()}, dict(since=since, until=until)),
             ({"from": since.isoformat()}, dict(since=since)),
             ({"key": k1, "model": "claude-sonnet-4-5", "to": until.isoformat()},
              dict(key=k1, model="claude-sonnet-4-5", until=until)),
             ({"key": k1, "from": since.isoformat(), "to": until.isoformat()},
              dict(key=k1, since=since, until=until)),
             ({"model": "no-such-model"}, dict(model="no-such-model"))]
    for params, match in cases:
        expected = _order([r for r in rows if _matches(r, **match)])
        for limit in (3, 8):
            ids, pages = await _walk(acct, limit, **params)
            assert ids == expected, (params, limit)
            assert {(p["total"], p["total_exact"]) for p in pages} == {(len(expected), True)}, params
        offset = await _get(acct, offset=2, limit=4, **params)
        assert [r["id"] for r in offset["data"]] == expected[2:6], params


async def test_other_users_see_none_of_it(log_world):
    body = await _get(log_world["other"])
    assert body["total"] == 30 and len(body["data"]) == 30
    assert not {r["id"] for r in body["data"]} & {r["_id"] for r in log_world["rows"]}
    # A cursor carries no authority: another user's cursor only positions within one's own log.
    mine = await _get(log_world["acct"], limit=2)
    theirs = await _get(log_world["other"], limit=100, before=mine["next_cursor"])
    assert {r["id"] for r in theirs["data"]} <= {r["id"] for r in body["data"]}


async def test_total_leaves_out_rows_deleted_by_retention(relay):
    """Retention deletes raw rows but keeps their roll-ups: the total counts the rows that are left."""
    deps = relay.deps
    async with relay.client() as http:
        acct = await account(http)
        key = (await acct.post("/api/user/keys", {"name": "r"})).json()
        start = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=3)
        times = [start + dt.timedelta(minutes=7 * i) for i in range(1000) if i % 3]  # ~4.8 days back to now
        times = [t for t in times if t < dt.datetime.now(UTC)]
        await deps.charges.charge_many([await usage_record(deps, acct.id, key["id"], ts=t) for t in times])
        assert (await _get(acct))["total"] == len(times)
        cutoff = start + dt.timedelta(days=1, hours=5, minutes=31)  # mid-hour, as the retention job cuts
        await deps.storage.db.usage.delete_many({"user_id": acct.id, "ts": {"$lt": cutoff}})
        left = [t for t in times if t >= cutoff]
        body = await _get(acct, limit=5)
        assert body["total"] == len(left) and body["total_exact"] is True
        ids, _ = await _walk(acct, 97)
        assert len(ids) == len(set(ids)) == len(left)


async def test_model_filter_total_is_capped(log_world, monkeypatch):
    acct = log_world["acct"]
    sonnet = sum(1 for r in log_world["rows"] if r["model"] == "claude-sonnet-4-5")
    monkeypatch.setattr(usage_counts, "TOTAL_CAP", 20)
    body = await _get(acct, model="claude-sonnet-4-5", limit=5)
    assert (body["total"], body["total_exact"]) == (20, False) and sonnet > 20
    ids, _ = await _walk(acct, 50, model="claude-sonnet-4-5")
    assert len(ids) == sonnet  # the cap is on counting, never on the rows
    few = await _get(acct, model="claude-sonnet-4-5", to=(log_world["base"] - 55 * STEP).isoformat())
    assert few["total_exact"] is True and few["total"] == len(few["data"]) < 20
    unfiltered = await _get(acct, limit=1)
    assert (unfiltered["total"], unfiltered["total_exact"]) == (ROWS, True)


async def test_the_exact_slow_form_gives_the_same_pages(log_world, monkeypatch):
    """Without proof of nx-27017's date text, filters take the ``$and`` form: same answers."""
    filters = log_world["deps"].stats.usage.filters
    monkeypatch.setattr(filters, "_form", TimeForm.SCAN)
    rows, acct, base = log_world["rows"], log_world["acct"], log_world["base"]
    since, until = base - 30 * STEP - dt.timedelta(minutes=1), base - 3 * STEP
    expected = _order([r for r in rows if _matches(r, key=log_world["k1"]["id"], since=since, until=until)])
    ids, pages = await _walk(acct, 6, key=log_world["k1"]["id"], **{"from": since.isoformat(),
                                                                    "to": until.isoformat()})
    assert ids == expected and pages[0]["total"] == len(expected)
    assert [r["id"] for r in (await _get(acct, offset=3, limit=4))["data"]] == _order(rows)[3:7]


async def test_bad_cursors_are_400_in_the_dashboard_envelope(log_world):
    acct = log_world["acct"]
    good = (await _get(acct, limit=1))["next_cursor"]
    for before in ("not a cursor!", "eHl6", LogCursor.decode(good).encode()[:-3] + "***", "A" * 401,
                   "OTk5OTk5OTk5OTk5OTk5LnJlcQ"):
        r = await acct.get("/api/user/logs", params={"before": before})
        assert r.status_code == 400, before
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error" and error["field"] == "before" and error["message"]
    r = await acct.get("/api/user/logs", params={"before": good, "offset": 5})
    assert r.status_code == 400 and r.json()["error"]["field"] == "before"
    assert (await acct.get("/api/user/logs", params={"before": good, "offset": 0})).status_code == 200
