"""Operator side of recharges and redeem codes, over the user side's ``RechargeService`` and
``RedeemService`` (approve and reject are idempotent there)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from server.accounts import fields as f
from server.accounts.times import iso, parse_client_time
from server.accounts.views import code_view, order_view
from server.admin.audit import AuditLog
from server.errors import BadRequest
from server.i18n import t
from server.pricing.money import format_micro

if TYPE_CHECKING:
    from server.accounts.recharge import RechargeService, RedeemService

ORDER_STATUSES = ("pending", "approved", "rejected", "credited")
CODE_STATUSES = ("active", "redeemed", "revoked", "expired")


class BillingAdmin:
    """Recharge orders and redeem codes for operators."""

    def __init__(self, audit: AuditLog, recharge: RechargeService, redeem: RedeemService) -> None:
        self.audit = audit
        self.recharge = recharge
        self.redeem = redeem

    async def recharges(self, status: str | None, limit: int,
                        offset: int) -> tuple[list[dict[str, Any]], int]:
        if status and status not in ORDER_STATUSES:
            raise BadRequest(t("status 必须是 {choices} 之一", choices=', '.join(ORDER_STATUSES)),
                             field="status")
        query = {"status": status} if status else {}
        rows, total = await self.recharge.orders.list(query, limit, offset)
        return [order_view(o) for o in rows], total

    async def approve(self, admin_id: str, order_id: str) -> dict[str, Any]:
        before = await self.recharge.orders.get(order_id)
        order = await self.recharge.approve(order_id, admin_id)
        if before is None or before.get("status") != order.get("status"):
            await self.audit.record(admin_id, "recharge.approve", order_id, before, order)
        return order_view(order)

    async def reject(self, admin_id: str, order_id: str, reason: str) -> dict[str, Any]:
        before = await self.recharge.orders.get(order_id)
        order = await self.recharge.reject(order_id, admin_id, reason)
        if before is None or before.get("status") != order.get("status"):
            await self.audit.record(admin_id, "recharge.reject", order_id, before, order)
        return order_view(order)

    async def create_codes(self, admin_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        amount = f.money(body, "amount", minimum=1)
        count = f.integer(body, "count", default=1, minimum=1, maximum=1000)
        expires_at = parse_client_time(body.get("expires_at"), "expires_at")
        docs = await self.redeem.create_codes(amount, count, expires_at, admin_id)
        await self.audit.record(admin_id, "codes.create", f"{count} codes",
                                None, {"amount": amount, "count": count, "expires_at": iso(expires_at),
                                       "ids": [d["_id"] for d in docs]})
        return [code_view(d) for d in docs]

    async def codes(self, status: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        if status and status not in CODE_STATUSES:
            raise BadRequest(t("status 必须是 {choices} 之一", choices=', '.join(CODE_STATUSES)),
                             field="status")
        rows, total = await self.redeem.codes.list({"status": status} if status else {}, limit, offset)
        return [code_view(c) for c in rows], total

    async def revoke(self, admin_id: str, code_id: str) -> dict[str, Any]:
        doc = await self.redeem.revoke(code_id)
        await self.audit.record(admin_id, "code.revoke", code_id, {"status": "active"},
                                {"status": doc["status"]})
        return code_view(doc)

    async def export_csv(self, status: str | None) -> str:
        """Every code (optionally of one status) as CSV, for printing or handing out."""
        rows, _ = await self.codes(status, 100_000, 0)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "code", "amount", "status", "expires_at", "created_at", "redeemed_by",
                         "redeemed_at"])
        for c in rows:
            writer.writerow([c["id"], c["code"], format_micro(c["amount"]), c["status"],
                             c["expires_at"] or "",
                             c["created_at"] or "", c["redeemed_by"] or "", c["redeemed_at"] or ""])
        return out.getvalue()
