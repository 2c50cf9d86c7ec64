"""The operator overview: traffic now (requests per minute, error rate, active requests),
revenue against upstream cost today and per day for two weeks, and today's top users, models
and accounts; plus the runtime settings the operator edits."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

from server.accounts.views import money
from server.admin.audit import AuditLog
from server.errors import BadRequest
from server.i18n import t
from server.storage.ledger import utcnow
from server.storage.rollups import RollupStore, bucket_start

if TYPE_CHECKING:
    from server.accounts.recharge import RechargeService
    from server.inflight import InFlight
    from server.pools.manager import PoolManager
    from server.storage.runtime_settings import RuntimeSettingsStore
    from server.storage.users import UserStore

HISTORY_DAYS = 14
TOP = 10
SETTINGS = ("recharge_mode", "registration_open", "log_retention_days", "default_rate_limit")


class JobsStatus(Protocol):
    """What the overview shows of the background jobs (``server.jobs.scheduler.Scheduler``)."""

    def status(self) -> list[dict[str, Any]]: ...


def _day_row(day: dt.datetime, row: dict[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    revenue, upstream = row.get("cost", 0), row.get("upstream_cost", 0)
    return {"date": day.date().isoformat(), "requests": row.get("requests", 0),
            "errors": row.get("errors", 0), **money("revenue", revenue),
            **money("upstream_cost", upstream), **money("margin", revenue - upstream)}


class Overview:
    """Read-only dashboards over usage, plus runtime settings."""

    def __init__(self, audit: AuditLog, rollups: RollupStore, pools: PoolManager, recharge: RechargeService,
                 runtime_settings: RuntimeSettingsStore, user_store: UserStore, scheduler: JobsStatus,
                 inflight: InFlight) -> None:
        self.audit = audit
        self.rollups = rollups
        self.pools = pools
        self.recharge = recharge
        self.runtime_settings = runtime_settings
        self.user_store = user_store
        self.scheduler = scheduler
        self.inflight = inflight

    async def overview(self) -> dict[str, Any]:
        """Read from the hourly/daily roll-ups (a few small documents), never raw usage."""
        rollups = self.rollups
        now = utcnow()
        hour = bucket_start(now, "hour")
        # Requests per minute and error rate over the current hour so far (at least one minute).
        recent = (await rollups.buckets("hour", [hour])).get(hour.isoformat()) or {"requests": 0, "errors": 0}
        minutes = max(1.0, (now - hour).total_seconds() / 60)
        today = bucket_start(now, "day")
        starts = [today - dt.timedelta(days=back) for back in range(HISTORY_DAYS - 1, -1, -1)]
        per_day = await rollups.buckets("day", starts)
        days = [_day_row(start, per_day.get(start.isoformat())) for start in starts]
        top = {}
        for name, dim in (("users", "user"), ("models", "model"), ("accounts", "account")):
            top[name] = [{"name": r["value"], "requests": r["requests"], "errors": r["errors"],
                          **money("cost", r["cost"]),
                          "tokens": sum(r["tokens"].values()) - r["tokens"]["reasoning"]}
                         for r in await rollups.top("day", today, dim, limit=TOP) if r["value"]]
        await self._label_accounts(top["accounts"])
        await self._label_users(top["users"])
        await self.pools.ensure_fresh()
        statuses: dict[str, int] = {}
        for account in self.pools.accounts.values():
            statuses[account.status] = statuses.get(account.status, 0) + 1
        return {"requests_per_minute": round(recent["requests"] / minutes, 2),
                "error_rate": round(recent["errors"] / recent["requests"], 4) if recent["requests"] else 0.0,
                "active_streams": self.inflight.count, "today": days[-1], "days": days, "top": top,
                "accounts": statuses,
                "pending_recharges": await self.recharge.orders.count({"status": "pending"}),
                "jobs": self.scheduler.status()}

    async def _label_accounts(self, rows: list[dict[str, Any]]) -> None:
        """Roll-ups key accounts by id; show their names."""
        await self.pools.ensure_fresh()
        for row in rows:
            account = self.pools.accounts.get(row["name"])
            if account is not None:
                row["account_id"], row["name"] = row["name"], account.name

    async def _label_users(self, rows: list[dict[str, Any]]) -> None:
        ids = [r["name"] for r in rows]
        if not ids:
            return
        users, _ = await self.user_store.list(len(ids), 0, {"_id": {"$in": ids}})
        names = {u["_id"]: u.get("username") for u in users}
        for row in rows:
            row["user_id"], row["name"] = row["name"], names.get(row["name"]) or row["name"]

    async def settings(self) -> dict[str, Any]:
        return (await self.runtime_settings.reload()).as_dict()

    async def update_settings(self, admin_id: str, body: dict[str, Any]) -> dict[str, Any]:
        unknown = [k for k in body if k not in SETTINGS]
        if unknown:
            raise BadRequest(t("未知的设置项 {field}", field=unknown[0]), field=unknown[0])
        before = (await self.runtime_settings.reload()).as_dict()
        after = (await self.runtime_settings.update(**body)).as_dict()
        await self.audit.record(admin_id, "settings.update", "runtime", before, after)
        return after
