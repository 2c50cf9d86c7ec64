"""The operator audit trail in the ``audit`` collection. Document::

    {_id: "aud_…", ts, admin_id, action: "upstream.create" …, target, before, after}

Secrets never reach it: API keys are reduced to a masked suffix; proxy passwords, passwords,
hashes, tokens and redeem codes to ``***``."""

from __future__ import annotations

from typing import Any

from server.accounts.times import iso
from server.ids import new_id
from server.proxy_urls import mask_proxy
from server.storage.audit import AuditStore
from server.storage.db import Storage
from server.storage.ledger import utcnow

SECRET_FIELDS = frozenset({"password", "password_hash", "key_hash", "jwt_secret", "metrics_token",
                           "token", "secret", "code", "ledger_marks"})


def mask(value: Any) -> Any:
    """A copy of ``value`` with every secret field hidden (recursively)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name == "api_key":
                key = str(item or "")
                out["api_key"] = ("…" + key[-4:]) if len(key) >= 8 else "***"
            elif name in ("proxy", "upstream_proxy") and isinstance(item, str):
                out[name] = mask_proxy(item)
            elif name in SECRET_FIELDS:
                out[name] = "***"
            else:
                out[name] = mask(item)
        return out
    if isinstance(value, (list, tuple)):
        return [mask(item) for item in value]
    return value


class AuditLog:
    """Records operator writes and lists them, newest first."""

    def __init__(self, storage: Storage) -> None:
        self.store = AuditStore(storage)

    async def record(self, admin_id: str, action: str, target: str, before: Any = None,
                     after: Any = None) -> None:
        """One operator write, secrets masked."""
        await self.store.add({
            "_id": new_id("aud"), "ts": utcnow(), "admin_id": admin_id, "action": action,
            "target": target, "before": mask(before), "after": mask(after)})

    async def list(self, limit: int, offset: int,
                   action: str | None = None) -> tuple[list[dict[str, Any]], int]:
        docs, total = await self.store.page(limit, offset, action)
        rows = [{"id": d["_id"], "ts": iso(d.get("ts")), "admin_id": d.get("admin_id"),
                 "action": d.get("action"), "target": d.get("target"), "before": d.get("before"),
                 "after": d.get("after")} for d in docs]
        return rows, total
