"""What a user may read about their own consumption: the statistics summary, the request
log, the transaction history and the price list with each group's multiplier applied.

Periods are in UTC and end with today (UTC): "today" starts at 00:00 UTC; "7d" and "30d" start
at the hour 7 and 30 days ago (each period's ``since`` says exactly where). ``daily`` covers the
30 calendar days (UTC) ending today, so its sum can differ from "30d" by the part of the oldest
day outside it. Rows stamped after today (a skewed clock) are in no period.

The periods, ``daily`` and (unless keys with usage in the window were deleted since) ``by_key``
are read from the user's and the keys' hourly and daily roll-ups: a few dozen small documents
whatever the user's volume. ``by_model`` still sums the user's raw rows of the last 30 days, as
no roll-up is kept per user and model.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from server.accounts import pricing_view
from server.accounts.times import from_epoch, iso
from server.accounts.views import ledger_row_view, money, usage_row_view
from server.errors import NotFound
from server.i18n import t
from server.pricing.pricing import KINDS
from server.storage.groups import GroupStore
from server.storage.keys import KeyStore
from server.storage.ledger import LedgerStore
from server.storage.prices import PriceStore
from server.storage.usage_cursor import LogCursor
from server.storage.usage_filters import UsageFilter
from server.storage.usage_queries import DAY_FORMAT, UsageQueries
from server.storage.usage_windows import DAY, HOUR, floor_to
from server.storage.users import UserStore

if TYPE_CHECKING:
    from server.clock import Clock

DAILY_DAYS = 30  # days in the ``daily`` chart series, today included


def _sums_view(sums: dict[str, Any]) -> dict[str, Any]:
    return {"requests": sums["requests"], **money("cost", sums["cost"]), "tokens": sums["tokens"]}


def _day_view(date: str, sums: dict[str, Any] | None) -> dict[str, Any]:
    """One day of the chart series: zero when the day had no requests. Only the billed token
    kinds are listed (reasoning tokens are already counted in ``output``)."""
    sums = sums or {"requests": 0, "cost": 0, "tokens": {}}
    return {"date": date, "requests": sums["requests"], **money("cost", sums["cost"]),
            "tokens": {kind: int(sums["tokens"].get(kind, 0)) for kind in KINDS}}


class StatsService:
    """Read-only views over a user's usage, ledger and prices."""

    def __init__(self, usage: UsageQueries, keys: KeyStore, ledger: LedgerStore, users: UserStore,
                 prices: PriceStore, groups: GroupStore, clock: "Clock", currency: str) -> None:
        self.usage = usage
        self.keys = keys
        self.ledger = ledger
        self.users = users
        self.prices = prices
        self.groups = groups
        self.clock = clock
        self.currency = currency

    async def summary(self, user_id: str) -> dict[str, Any]:
        """Balance; requests, spend and tokens today / 7 days / 30 days; 30 days by model and by key."""
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound(t("用户不存在"))
        now = from_epoch(self.clock.now())
        today = floor_to(now, DAY)
        end = today + DAY
        starts = {"today": today, "7d": floor_to(now - dt.timedelta(days=7), HOUR),
                  "30d": floor_to(now - dt.timedelta(days=30), HOUR)}
        periods = {}
        for name, since in starts.items():
            sums = await self.usage.window_totals(user_id, since, end)
            periods[name] = {"since": iso(since), **_sums_view(sums)}
        by_model = [{"model": row["model"], **_sums_view(row)}
                    for row in await self.usage.grouped(user_id, "model", starts["30d"], end)]
        key_ids = [key["_id"] for key in await self.keys.list_for_user(user_id)]
        key_rows = await self.usage.by_key(user_id, key_ids, starts["30d"], end)
        names = await self.keys.names([row["key_id"] for row in key_rows])
        by_key = [{"key_id": row["key_id"], "key_name": names.get(row["key_id"]),
                   "deleted": row["key_id"] not in names, **_sums_view(row)} for row in key_rows]
        return {**money("balance", int(user.get("balance", 0))), "currency": self.currency,
                "timezone": "UTC", "generated_at": iso(now), "periods": periods,
                "by_model": by_model, "by_key": by_key,
                "daily": await self.daily(user_id, today)}

    async def daily(self, user_id: str, today: dt.datetime) -> list[dict[str, Any]]:
        """The last ``DAILY_DAYS`` UTC days up to ``today`` (00:00 UTC), oldest first, zero-filled."""
        first = today - dt.timedelta(days=DAILY_DAYS - 1)
        sums = await self.usage.daily(user_id, first, today + dt.timedelta(days=1))
        dates = [(first + dt.timedelta(days=i)).strftime(DAY_FORMAT) for i in range(DAILY_DAYS)]
        return [_day_view(date, sums.get(date)) for date in dates]

    async def logs(self, user_id: str, *, limit: int, offset: int, before: LogCursor | None = None,
                   key_id: str | None = None, model: str | None = None, since: dt.datetime | None = None,
                   until: dt.datetime | None = None) -> dict[str, Any]:
        """One page of the user's requests, newest first, from ``offset`` or after the cursor
        ``before`` (``next_cursor`` of the previous page: the same cost at any depth); another
        user's key is a 404. ``total`` counts every matching row; ``total_exact`` is false when
        a model filter matches more than ``usage_counts.TOTAL_CAP`` rows (then: at least that)."""
        if key_id is not None and await self.keys.get_for_user(user_id, key_id) is None:
            raise NotFound(t("API Key 不存在"))
        page = await self.usage.log(UsageFilter(user_id, key_id, model, since, until), limit=limit,
                                    offset=offset, before=before)
        return {"data": [usage_row_view(r) for r in page.rows], "total": page.total,
                "total_exact": page.total_exact, "limit": limit, "offset": offset,
                "next_cursor": page.next_cursor, "currency": self.currency}

    async def transactions(self, user_id: str, *, limit: int, offset: int,
                           type: str | None = None) -> dict[str, Any]:
        """One page of the user's ledger entries, newest first."""
        rows, total = await self.ledger.list_for_user(user_id, limit, offset, type=type)
        return {"data": [ledger_row_view(r) for r in rows], "total": total, "limit": limit,
                "offset": offset, "currency": self.currency}

    async def transaction_rows(self, user_id: str, entry_id: str) -> dict[str, Any]:
        """The usage rows one of the user's charge entries summed (another user's entry: 404)."""
        entry = await self.ledger.get_for_user(user_id, entry_id)
        if entry is None:
            raise NotFound(t("交易记录不存在"))
        rows = await self.ledger.flush_rows(user_id, entry_id) if entry.get("rows_of") else []
        return {"entry": ledger_row_view(entry), "data": [usage_row_view(r) for r in rows],
                "total": len(rows), "currency": self.currency}

    async def pricing(self) -> dict[str, Any]:
        """Every price rule per million tokens, as is and under each group's multiplier."""
        return await pricing_view.pricing(self.prices, await self.groups.list(), self.currency)
