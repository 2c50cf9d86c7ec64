"""Operator editing of price rules (decimal strings per million tokens in, the same out).
A change applies to requests admitted after it: usage rows keep the prices they were charged."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from server.accounts import fields as f
from server.accounts.times import iso
from server.admin.audit import AuditLog
from server.billing.money import format_micro
from server.billing.pricing import KINDS, PriceRule
from server.errors import BadRequest, Conflict, NotFound

if TYPE_CHECKING:
    from server.deps import Deps

_PATTERN = re.compile(r"[A-Za-z0-9._:/@*?\[\]-]{1,128}")
ALLOWED = ("pattern", *KINDS, "note", "placeholder")


def price_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "pattern": doc["pattern"],
            **{k: format_micro(int(doc.get(k, 0))) for k in KINDS},
            "placeholder": bool(doc.get("placeholder", False)), "note": doc.get("note", ""),
            "updated_at": iso(doc.get("updated_at"))}


def _rule(body: dict[str, Any], base: dict[str, Any] | None) -> PriceRule:
    unknown = [k for k in body if k not in ALLOWED]
    if unknown:
        raise BadRequest(f"未知字段 {unknown[0]}", field=unknown[0])
    pattern = f.text(body, "pattern", max_len=128, min_len=1) if "pattern" in body or base is None \
        else base["pattern"]
    if not _PATTERN.fullmatch(pattern):
        raise BadRequest("pattern 必须是模型名或通配符(如 claude-opus-*)", field="pattern")
    money: dict[str, int | None] = {}
    for kind in KINDS:
        if kind in body:
            money[kind] = f.money(body, kind, required=kind in ("input", "output"), maximum=10**11)
        elif base is not None:
            money[kind] = int(base[kind])
        elif kind in ("input", "output"):
            raise BadRequest(f"缺少字段 {kind}", field=kind)
        else:
            money[kind] = None  # derived from input
    placeholder = body.get("placeholder", bool((base or {}).get("placeholder", False)))
    if not isinstance(placeholder, bool):
        raise BadRequest("placeholder 必须是布尔值", field="placeholder")
    note = f.text(body, "note", required=False, max_len=500) if "note" in body else (base or {}).get("note", "")
    return PriceRule.build(pattern, money.pop("input"), money.pop("output"), placeholder=placeholder,
                           note=note, **money)


class PriceAdmin:
    """List, create, edit and delete price rules through ``PriceStore``."""

    def __init__(self, deps: "Deps", audit: AuditLog) -> None:
        self.deps = deps
        self.audit = audit

    async def list(self) -> list[dict[str, Any]]:
        return [price_view(d) for d in await self.deps.prices.list_docs()]

    async def _get(self, price_id: str) -> dict[str, Any]:
        for doc in await self.deps.prices.list_docs():
            if doc["_id"] == price_id:
                return doc
        raise NotFound("价格规则不存在")

    async def _taken(self, pattern: str, except_id: str | None = None) -> bool:
        return any(d["pattern"] == pattern and d["_id"] != except_id for d in await self.deps.prices.list_docs())

    async def create(self, admin_id: str, body: dict[str, Any]) -> dict[str, Any]:
        rule = _rule(body, None)
        if await self._taken(rule.pattern):
            raise Conflict("该模式的价格规则已存在", field="pattern")
        doc = await self.deps.prices.upsert(rule)
        await self.audit.record(admin_id, "price.create", doc["_id"], None, doc)
        return price_view(doc)

    async def update(self, admin_id: str, price_id: str, body: dict[str, Any]) -> dict[str, Any]:
        before = await self._get(price_id)
        rule = _rule(body, before)
        if rule.pattern != before["pattern"]:
            if await self._taken(rule.pattern, price_id):
                raise Conflict("该模式的价格规则已存在", field="pattern")
            # The store keys rules by pattern: a renamed pattern is a new rule replacing the old.
            await self.deps.prices.delete(price_id)
        doc = await self.deps.prices.upsert(rule)
        await self.audit.record(admin_id, "price.update", price_id, before, doc)
        return price_view(doc)

    async def delete(self, admin_id: str, price_id: str) -> None:
        before = await self._get(price_id)
        await self.deps.prices.delete(price_id)
        await self.audit.record(admin_id, "price.delete", price_id, before, None)
