"""Operator management of groups (protocol, multiplier, description) through ``GroupStore``;
the listing says which upstream accounts serve each group."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from server.accounts import fields as f
from server.accounts.times import iso
from server.admin.audit import AuditLog
from server.errors import BadRequest, NotFound
from server.i18n import t
from server.pricing.money import MoneyError, format_micro, ratio_to_ppm
from server.storage.groups import group_doc

if TYPE_CHECKING:
    from server.storage.groups import GroupStore
    from server.storage.upstreams import UpstreamStore

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _multiplier(body: dict[str, Any]) -> int:
    value = body.get("multiplier")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRequest(t("multiplier 必须是十进制数字符串,例如 \"1.25\""), field="multiplier")
    try:
        ppm = ratio_to_ppm(value)
    except MoneyError:
        raise BadRequest(t("multiplier 必须是十进制数字符串(最多 6 位小数)"), field="multiplier") from None
    if not 0 <= ppm <= 100_000_000:
        raise BadRequest(t("multiplier 必须在 0 到 100 之间"), field="multiplier")
    return ppm


def group_view(group: dict[str, Any], accounts: list[dict[str, Any]]) -> dict[str, Any]:
    ppm = int(group.get("multiplier_ppm", 1_000_000))
    return {"name": group["_id"], "protocol": group.get("protocol"), "multiplier": format_micro(ppm),
            "multiplier_ppm": ppm, "description": group.get("description", ""),
            "created_at": iso(group.get("created_at")),
            "accounts": [{"id": a["_id"], "name": a["name"], "enabled": bool(a.get("enabled", True)),
                          "status": (a.get("state") or {}).get("status", "healthy")}
                         for a in accounts if group["_id"] in (a.get("groups") or [])]}


class GroupAdmin:
    """List, create and edit groups."""

    def __init__(self, audit: AuditLog, groups: GroupStore, upstreams: UpstreamStore) -> None:
        self.audit = audit
        self.groups = groups
        self.upstreams = upstreams

    async def list(self) -> list[dict[str, Any]]:
        await self.groups.reload()
        accounts = await self.upstreams.list()
        return [group_view(g, accounts) for g in await self.groups.list()]

    async def create(self, admin_id: str, body: dict[str, Any]) -> dict[str, Any]:
        name = f.text(body, "name", max_len=64, min_len=1)
        if not _NAME.fullmatch(name):
            raise BadRequest(t("name 只能包含字母、数字、下划线、点和连字符"), field="name")
        ppm = _multiplier(body) if "multiplier" in body else 1_000_000
        doc = group_doc(name, body.get("protocol", ""), ppm,
                        f.text(body, "description", required=False, max_len=500))
        await self.groups.create(doc)
        await self.audit.record(admin_id, "group.create", name, None, doc)
        return group_view(doc, await self.upstreams.list())

    async def update(self, admin_id: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        await self.groups.reload()
        before = await self.groups.get(name)
        if before is None:
            raise NotFound(t("分组不存在"))
        unknown = [k for k in body if k not in ("protocol", "multiplier", "description")]
        if unknown:
            raise BadRequest(t("未知字段 {field}(分组名不能修改)", field=unknown[0]), field=unknown[0])
        changes: dict[str, Any] = {}
        if "protocol" in body:
            changes["protocol"] = body["protocol"]
        if "multiplier" in body:
            changes["multiplier_ppm"] = _multiplier(body)
        if "description" in body:
            changes["description"] = f.text(body, "description", required=False, max_len=500)
        after = await self.groups.update(name, **changes)
        await self.audit.record(admin_id, "group.update", name, before, after)
        return group_view(after or before, await self.upstreams.list())
