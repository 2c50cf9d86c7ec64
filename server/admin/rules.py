"""Operator editing of the pool's error rules, stored as ``settings`` document
``{_id: "error_rules", rules: [...]}`` (the pool reads it on reload); the defaults apply while
none are stored."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.admin.audit import AuditLog
from server.errors import BadRequest
from server.i18n import t
from server.pools.rules import DEFAULT_RULES, rule_from_dict
from server.storage.error_rules import DOC_ID, ErrorRulesStore
from server.storage.ledger import utcnow

if TYPE_CHECKING:
    from server.pools.manager import PoolManager

MAX_RULES = 200


class ErrorRulesAdmin:
    """Read, replace and reset the error rules."""

    def __init__(self, audit: AuditLog, store: ErrorRulesStore, pools: PoolManager) -> None:
        self.audit = audit
        self.store = store
        self.pools = pools

    async def get(self) -> dict[str, Any]:
        stored = await self.store.stored()
        if stored:
            return {"rules": stored, "is_default": False}
        return {"rules": [r.as_dict() for r in DEFAULT_RULES], "is_default": True}

    async def replace(self, admin_id: str, rules: Any) -> dict[str, Any]:
        """Validate every rule (400 naming ``rules[i].field``) and store them all."""
        if not isinstance(rules, list) or not rules or len(rules) > MAX_RULES:
            raise BadRequest(t("rules 必须是 1 到 {MAX_RULES} 条规则的数组", MAX_RULES=MAX_RULES),
                             field="rules")
        clean = []
        for i, item in enumerate(rules):
            if not isinstance(item, dict):
                raise BadRequest(t("rules[{i}] 必须是对象", i=i), field=f"rules[{i}]")
            try:
                clean.append(rule_from_dict(item).as_dict())
            except ValueError as exc:
                name = str(exc).split(":", 1)[0]
                raise BadRequest(f"rules[{i}].{exc}", field=f"rules[{i}].{name}") from None
        return await self._store(admin_id, "error_rules.replace", clean)

    async def reset(self, admin_id: str) -> dict[str, Any]:
        return await self._store(admin_id, "error_rules.reset", [])

    async def _store(self, admin_id: str, action: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        before = await self.get()
        await self.store.replace(rules, admin_id, utcnow())
        await self.pools.reload()
        after = await self.get()
        await self.audit.record(admin_id, action, DOC_ID, before["rules"], after["rules"])
        return after
