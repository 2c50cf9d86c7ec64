"""Operator management of users: search, detail (balance, keys, recent usage), disable and
enable (ending sessions and refusing relay calls at once), and balance adjustments."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from server.accounts import fields as f
from server.accounts.times import iso
from server.accounts.views import billed_extras, key_view, money, user_view
from server.admin.audit import AuditLog
from server.errors import BadRequest, NotFound
from server.i18n import t
from server.ids import new_id
from server.pricing.money import MoneyError, to_micro
from server.storage.holds import user_overdraft
from server.storage.ledger import make_entry, utcnow
from server.storage.usage_queries import UsageQueries

if TYPE_CHECKING:
    from server.accounts.keys import KeyService
    from server.storage.ledger import LedgerStore
    from server.storage.users import UserStore

MAX_ADJUST = 10**12


def adjustment_amount(body: dict[str, Any]) -> int:
    """A signed, non-zero decimal amount (``"-12.5"``) in micro-units, or a 400 naming it."""
    value = body.get("amount")
    if isinstance(value, bool) or not isinstance(value, (str, int)) or \
            (isinstance(value, str) and not re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value)):
        raise BadRequest(t("amount 必须是十进制数字符串,可为负数,例如 \"-12.5\""), field="amount")
    try:
        micro = to_micro(value)
    except MoneyError:
        raise BadRequest(t("amount 最多 6 位小数"), field="amount") from None
    if micro == 0 or abs(micro) > MAX_ADJUST:
        raise BadRequest(t("amount 不能为 0,且绝对值不超过 1000000"), field="amount")
    return micro


def usage_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["_id"], "ts": iso(row.get("ts")), "model": row.get("model"),
            "group": row.get("group"), "key_id": row.get("key_id"), "status": row.get("status"),
            "outcome": row.get("outcome"), "tokens": row.get("tokens"), **money("cost", row.get("cost", 0)),
            "account_name": row.get("account_name"), "latency_ms": row.get("latency_ms"),
            "repairs": row.get("repairs") or [], **billed_extras(row)}


class UserAdmin:
    """Users as the operator sees and manages them."""

    def __init__(self, audit: AuditLog, user_store: UserStore, keys: KeyService, ledger: LedgerStore,
                 usage: UsageQueries, overdraft: int) -> None:
        self.audit = audit
        self.user_store = user_store
        self.keys = keys
        self.ledger = ledger
        self.usage = usage
        self.overdraft = overdraft

    async def list(self, q: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        query: dict[str, Any] = {}
        if q:
            pattern = {"$regex": re.escape(q[:100]), "$options": "i"}
            query = {"$or": [{"email": pattern}, {"username": pattern}, {"_id": q}]}
        rows, total = await self.user_store.list(limit, offset, query)
        return [user_view(u) for u in rows], total

    async def _user(self, user_id: str) -> dict[str, Any]:
        user = await self.user_store.get(user_id)
        if user is None:
            raise NotFound(t("用户不存在"))
        return user

    async def detail(self, user_id: str) -> dict[str, Any]:
        user = await self._user(user_id)
        now = utcnow()
        keys = [key_view(k, now) for k in await self.keys.list_for_user(user_id)]
        rows, total = await self.usage.page(user_id, limit=20, offset=0)
        return {**user_view(user), **self._credit(user), "keys": keys,
                "recent_usage": [usage_view(r) for r in rows], "usage_total": total}

    def _credit(self, user: dict[str, Any]) -> dict[str, Any]:
        """Money held by requests in flight and the overdraft the relay allows this user."""
        return {**money("held", int(user.get("held") or 0)),
                **money("overdraft", user_overdraft(user, self.overdraft)),
                "overdraft_is_default": "overdraft" not in user}

    async def set_overdraft(self, admin_id: str, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Let a user's balance go below zero by up to ``amount`` (a decimal string; null: the
        default). Admission refuses a request its hold would take past it."""
        value = body.get("amount", "missing")
        if value is None:
            amount = None
        elif isinstance(value, bool) or not isinstance(value, (str, int)) or \
                (isinstance(value, str) and not re.fullmatch(r"\s*\d+(\.\d+)?\s*", value)):
            raise BadRequest(t("amount 必须是非负的十进制数字符串(例如 \"5\"),或 null 恢复默认"),
                             field="amount")
        else:
            try:
                amount = to_micro(value)
            except MoneyError:
                raise BadRequest(t("amount 最多 6 位小数"), field="amount") from None
            if amount > MAX_ADJUST:
                raise BadRequest(t("amount 不超过 1000000"), field="amount")
        before = await self._user(user_id)
        after = await self.user_store.set_overdraft(user_id, amount)
        if after is None:
            raise NotFound(t("用户不存在"))
        self.keys.invalidate(user_id=user_id)
        await self.audit.record(admin_id, "user.overdraft", user_id, self._credit(before),
                                self._credit(after))
        return {**user_view(after), **self._credit(after)}

    async def set_status(self, admin_id: str, user_id: str, status: str) -> dict[str, Any]:
        """Disable (sessions end via ``token_version``; cached key lookups are dropped so the
        relay refuses the user's keys at once) or enable a user."""
        before = await self._user(user_id)
        if status == "disabled" and user_id == admin_id:
            raise BadRequest(t("不能禁用自己的账户"), field="id")
        after = await self.user_store.set_status(user_id, status)
        if after is None:
            raise NotFound(t("用户不存在"))
        self.keys.invalidate(user_id=user_id)
        await self.audit.record(admin_id, f"user.{'disable' if status == 'disabled' else 'enable'}",
                                user_id, user_view(before), user_view(after))
        return user_view(after)

    async def adjust(self, admin_id: str, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Post one ``adjustment`` ledger entry (positive or negative) with the reason."""
        amount = adjustment_amount(body)
        reason = f.text(body, "reason", max_len=500, min_len=1)
        before = await self._user(user_id)
        # An optional client idempotency key makes a retried or double-clicked POST a no-op.
        key = body.get("idempotency_key")
        if key is not None and (not isinstance(key, str) or not 8 <= len(key) <= 100):
            raise BadRequest("idempotency_key: 8-100 characters", field="idempotency_key")
        entry_id = (("adj_" + hashlib.sha256(f"{user_id}:{key}".encode()).hexdigest()[:32]) if key
                    else new_id("adj"))
        entry = make_entry(entry_id, user_id, amount, "adjustment", ref=admin_id,
                           meta={"reason": reason, "admin_id": admin_id})
        posted = await self.ledger.post(entry)
        self.keys.invalidate(user_id=user_id)
        await self.audit.record(admin_id, "user.adjust", user_id,
                                {"balance": before.get("balance", 0)},
                                {"balance": posted["balance_after"], "amount": amount, "reason": reason,
                                 "ledger_id": entry["_id"]})
        return {"ledger_id": entry["_id"], **money("amount", amount),
                **money("balance", posted["balance_after"]), "reason": reason}
