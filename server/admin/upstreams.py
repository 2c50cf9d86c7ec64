"""Operator management of upstream accounts: CRUD (the key write-only), enable/disable, a
one-off probe, and the live view (health, in-flight, recent stats, sticky sessions, today's
tokens and upstream cost)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError

from server.accounts.times import iso
from server.admin.audit import AuditLog
from server.admin.upstream_fields import parse_upstream
from server.errors import Conflict, NotFound
from server.i18n import t
from server.proxy_urls import mask_proxy
from server.storage.ledger import utcnow
from server.storage.rollups import RollupStore, bucket_start
from server.storage.upstreams import HEALTHY, public_view

if TYPE_CHECKING:
    from server.pools.manager import PoolManager
    from server.pools.sticky import StickyStore
    from server.storage.groups import GroupStore
    from server.storage.upstreams import UpstreamStore
    from server.upstream.client import UpstreamClient

FIELDS = ("id", "name", "groups", "protocol", "base_url", "api_key_masked", "weight", "priority",
          "enabled", "models", "model_map", "max_concurrency", "notes", "proxy")


def today_start() -> dt.datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


class UpstreamAdmin:
    """Upstream accounts as the operator sees and edits them."""

    def __init__(self, audit: AuditLog, upstreams: UpstreamStore, groups: GroupStore, pools: PoolManager,
                 sticky: StickyStore, upstream_client: UpstreamClient, rollups: RollupStore) -> None:
        self.audit = audit
        self.upstreams = upstreams
        self.groups = groups
        self.pools = pools
        self.sticky = sticky
        self.upstream_client = upstream_client
        self.rollups = rollups

    async def _known_groups(self) -> set[str]:
        return {g["_id"] for g in await self.groups.list()}

    async def _get(self, account_id: str) -> dict[str, Any]:
        doc = await self.upstreams.get(account_id)
        if doc is None:
            raise NotFound(t("上游账号不存在"))
        return doc

    async def list(self) -> list[dict[str, Any]]:
        """Every account with its live numbers."""
        await self.pools.ensure_fresh()
        rows = await self.rollups.top("day", utcnow(), "account")
        today = {row["value"]: row for row in rows}
        return [await self._view(doc, today.get(doc["_id"])) for doc in await self.upstreams.list()]

    async def get(self, account_id: str) -> dict[str, Any]:
        doc = await self._get(account_id)
        day = bucket_start(utcnow(), "day")
        rows = await self.rollups.buckets("day", [day], "account", account_id)
        return await self._view(doc, rows.get(day.isoformat()))

    async def _view(self, doc: dict[str, Any], today: dict[str, Any] | None) -> dict[str, Any]:
        public = public_view(doc)
        out = {name: public.get(name) for name in FIELDS}
        out["enabled"] = bool(doc.get("enabled", True))  # some wire servers store $set booleans as 0/1
        state = doc.get("state") or {}
        out["state"] = {"status": state.get("status", "healthy"), "reason": state.get("reason", ""),
                        "cooldown_until": state.get("cooldown_until") or None}
        out["created_at"], out["updated_at"] = iso(doc.get("created_at")), iso(doc.get("updated_at"))
        account = self.pools.accounts.get(doc["_id"])
        if account is not None:
            live = self.pools.live_view(account)
        else:
            live = {"status": "disabled" if not doc.get("enabled", True) else state.get("status", "healthy"),
                    "inflight": 0, "last_error": "", "stats_5m": None, "stats_1h": None}
        tokens = sum((today or {}).get("tokens", {}).get(k, 0) for k in
                     ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"))
        out["live"] = {"status": live["status"], "inflight": live["inflight"],
                       "stats_5m": live["stats_5m"], "stats_1h": live["stats_1h"],
                       "last_error": live["last_error"] or None,
                       "sticky_sessions": await self.sticky.held_by(doc["_id"]),
                       "tokens_today": tokens, "requests_today": (today or {}).get("requests", 0),
                       "upstream_cost_today": (today or {}).get("upstream_cost", 0)}
        return out

    async def create(self, admin_id: str, body: dict[str, Any]) -> dict[str, Any]:
        fields = parse_upstream(body, partial=False, known_groups=await self._known_groups())
        try:
            doc = await self.upstreams.create(fields)
        except DuplicateKeyError:
            raise Conflict(t("已存在同名的上游账号"), field="name") from None
        await self.pools.reload()
        await self.audit.record(admin_id, "upstream.create", doc["_id"], None, doc)
        return await self.get(doc["_id"])

    async def update(self, admin_id: str, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
        before = await self._get(account_id)
        fields = parse_upstream(body, partial=True, known_groups=await self._known_groups())
        if "***" in fields.get("proxy", "") and fields["proxy"] == mask_proxy(str(before.get("proxy") or "")):
            fields["proxy"] = before["proxy"]  # the form sent back the masked URL: keep the password
        try:
            after = await self.upstreams.update(account_id, fields) if fields else before
        except DuplicateKeyError:
            raise Conflict(t("已存在同名的上游账号"), field="name") from None
        if after is None:
            raise NotFound(t("上游账号不存在"))
        state = after.get("state") or {}
        broken = (state.get("status") == "disabled"
                  and str(state.get("reason", "")).startswith("disabled after config"))
        if broken and {"base_url", "api_key", "proxy"} & set(fields):
            # Disabled for its own configuration, which the operator just changed: try it again.
            await self.upstreams.set_state(account_id, HEALTHY["status"])
            after = await self._get(account_id)
        await self.pools.reload()
        await self.audit.record(admin_id, "upstream.update", account_id, before, after)
        return await self.get(account_id)

    async def set_enabled(self, admin_id: str, account_id: str, enabled: bool) -> dict[str, Any]:
        """Switch an account; enabling also clears any cooldown or rule-made disable."""
        before = await self._get(account_id)
        await self.upstreams.update(account_id, {"enabled": enabled})
        if enabled:
            await self.upstreams.set_state(account_id, HEALTHY["status"])
        await self.pools.reload()
        after = await self._get(account_id)
        await self.audit.record(admin_id, "upstream.enable" if enabled else "upstream.disable",
                                account_id, before, after)
        return await self.get(account_id)

    async def delete(self, admin_id: str, account_id: str) -> None:
        before = await self._get(account_id)
        if not await self.upstreams.delete(account_id):
            raise NotFound(t("上游账号不存在"))
        await self.pools.reload()
        await self.audit.record(admin_id, "upstream.delete", account_id, before, None)

    async def test(self, admin_id: str, account_id: str) -> dict[str, Any]:
        """One probe now; its outcome updates the account's health like any other."""
        await self._get(account_id)
        result = await self.pools.probe(account_id, self.upstream_client, by_operator=True)
        await self.audit.record(admin_id, "upstream.test", account_id, None, result)
        return result
