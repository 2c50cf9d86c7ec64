"""Recharges by the operator's chosen mode, and redeem codes.

- ``manual``: the user files a pending order; an operator approves (credits) or rejects it;
- ``code``: the user redeems a code made by an operator; the code's amount is credited;
- ``open``: the order is credited at once (trusted or demo deployments).

Every credit is one ledger entry whose id is derived from the order or code
(``rch_<order>``, ``rdm_<code id>``), so a retried or concurrent approval or redemption can
never credit twice. Orders move by conditional single-document transitions.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import TYPE_CHECKING, Any, Callable

from pymongo.errors import BulkWriteError

from server.accounts.times import as_utc, from_epoch
from server.errors import BadRequest, Conflict, NotFound
from server.i18n import Text, t
from server.ids import new_id
from server.storage.ledger import LedgerStore, make_entry, utcnow
from server.storage.recharge import RechargeOrderStore, RedeemCodeStore
from server.storage.runtime_settings import RuntimeSettingsStore

if TYPE_CHECKING:
    from server.clock import Clock

MAX_RECHARGE = 10**12  # one million currency units per order or code
MAX_PENDING_ORDERS = 20
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed by hand
CODE_LENGTH = 16


def new_code() -> str:
    """A random code such as ``K7QX-M2RA-9WZP-H4TE`` (about 79 bits)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str) -> str | None:
    """The stored form of a code as typed (case, spaces and dashes ignored), or None."""
    raw = re.sub(r"[\s-]", "", text).upper()
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


class RedeemService:
    """Makes redeem codes (operators) and redeems them (users), each at most once."""

    def __init__(self, codes: RedeemCodeStore, ledger: LedgerStore, clock: "Clock") -> None:
        self.codes = codes
        self.ledger = ledger
        self.clock = clock

    async def create_codes(self, amount: int, count: int, expires_at: dt.datetime | None,
                           admin_id: str) -> list[dict[str, Any]]:
        """``count`` new active codes worth ``amount`` micro-units each."""
        if not isinstance(amount, int) or not 0 < amount <= MAX_RECHARGE:
            raise BadRequest(t("amount 必须大于 0 且不超过 1000000"), field="amount")
        if not isinstance(count, int) or not 1 <= count <= 1000:
            raise BadRequest(t("count 必须在 1 到 1000 之间"), field="count")
        if expires_at is not None and expires_at <= from_epoch(self.clock.now()):
            raise BadRequest(t("expires_at 必须晚于当前时间"), field="expires_at")
        now = utcnow()
        docs = [{"_id": new_id("rdc"), "code": new_code(), "amount": amount, "status": "active",
                 "expires_at": expires_at, "created_by": admin_id, "created_at": now,
                 "redeemed_by": None, "redeemed_at": None} for _ in range(count)]
        try:
            await self.codes.insert_many(docs)
        except BulkWriteError as exc:  # a code collided (astronomically rare): new codes for the rest
            done = exc.details.get("nInserted", 0)
            for doc in docs[done:]:
                doc["code"], doc["_id"] = new_code(), new_id("rdc")
            await self.codes.insert_many(docs[done:])
        return docs

    async def redeem(self, user_id: str, code_text: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Credit a code's amount to ``user_id``: (code, applied ledger entry); a clear 400 otherwise."""
        code = normalize_code(code_text)
        if code is None:
            raise BadRequest(t("兑换码格式不正确"), field="code")
        taken = await self.codes.redeem(code, user_id, from_epoch(self.clock.now()))
        if taken is None:
            raise BadRequest(await self._why_not(code), field="code")
        entry = make_entry("rdm_" + taken["_id"], user_id, taken["amount"], "redeem",
                           ref=taken["_id"], meta={"code": code})
        return taken, await self.ledger.post(entry)

    async def repair(self, window: float = 86400.0) -> int:
        """Credit codes that were taken but whose ledger entry never got written (a crash between
        the two steps). Posting is idempotent by entry id, so this is safe to run any time."""
        repaired = 0
        for code in await self.codes.redeemed_since(self.clock.now() - window):
            entry_id = "rdm_" + code["_id"]
            if await self.ledger.exists(entry_id):
                continue
            await self.ledger.post(make_entry(entry_id, code["redeemed_by"], code["amount"], "redeem",
                                              ref=code["_id"], meta={"code": code.get("code"),
                                                                     "repaired": True}))
            repaired += 1
        return repaired

    async def _why_not(self, code: str) -> Text:
        doc = await self.codes.get_by_code(code)
        if doc is None:
            return t("兑换码不存在")
        if doc.get("status") == "redeemed":
            return t("兑换码已被使用")
        if doc.get("status") == "revoked":
            return t("兑换码已作废")
        expires_at = as_utc(doc.get("expires_at"))
        if expires_at is not None and expires_at <= from_epoch(self.clock.now()):
            return t("兑换码已过期")
        return t("兑换码无效")

    async def list(self, limit: int, offset: int,
                   status: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Codes, newest first, optionally of one status (operators)."""
        return await self.codes.list({"status": status} if status else {}, limit, offset)

    async def revoke(self, code_id: str) -> dict[str, Any]:
        """Make an active code unusable (operators)."""
        doc = await self.codes.revoke(code_id)
        if doc is None:
            raise NotFound(t("兑换码不存在或已不可用"))
        return doc


class RechargeService:
    """Files, credits, approves and rejects recharge orders."""

    def __init__(self, orders: RechargeOrderStore, ledger: LedgerStore,
                 runtime: RuntimeSettingsStore, redeem: RedeemService,
                 on_credit: Callable[[str], None] | None = None) -> None:
        self.orders = orders
        self.ledger = ledger
        self.runtime = runtime
        self.redeem = redeem
        # Called with the user id after a credit (drops cached key lookups holding the old balance).
        self.on_credit = on_credit or (lambda user_id: None)

    async def request(self, user_id: str, *, amount: int, description: str = "",
                      code: str | None = None) -> tuple[dict[str, Any], int | None]:
        """A user's recharge in the current mode: (order, new balance or None while pending)."""
        mode = (await self.runtime.get()).recharge_mode
        if mode == "code":
            if not code:
                raise BadRequest(t("当前充值方式为兑换码,请填写兑换码"), field="code")
            taken, entry = await self.redeem.redeem(user_id, code)
            self.on_credit(user_id)
            order = self._order(user_id, taken["amount"], description, "code", "credited",
                                ledger_id=entry["_id"], code_id=taken["_id"], decided_by="code",
                                decided_at=utcnow())
            await self.orders.insert(order)
            return order, entry["balance_after"]
        if not 0 < amount <= MAX_RECHARGE:
            raise BadRequest(t("amount 必须大于 0"), field="amount")
        if mode == "manual":
            if await self.orders.count({"user_id": user_id, "status": "pending"}) >= MAX_PENDING_ORDERS:
                raise BadRequest(t("待审核的充值订单过多,请等待管理员处理"), field="amount")
            order = self._order(user_id, amount, description, "manual", "pending")
            await self.orders.insert(order)
            return order, None
        order = self._order(user_id, amount, description, "open", "approved",
                            decided_by="open", decided_at=utcnow())
        await self.orders.insert(order)
        return await self._credit(order)

    @staticmethod
    def _order(user_id: str, amount: int, description: str, method: str, status: str,
               **extra: Any) -> dict[str, Any]:
        return {"_id": new_id("rco"), "user_id": user_id, "amount": amount,
                "description": description, "method": method, "status": status,
                "created_at": utcnow(), "decided_at": None, "decided_by": None,
                "ledger_id": None, "code_id": None, "reason": "", **extra}

    async def _credit(self, order: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Post the order's ledger entry (idempotent) and mark it credited."""
        entry = make_entry("rch_" + order["_id"], order["user_id"], order["amount"], "recharge",
                           ref=order["_id"], meta={"description": order.get("description", "")})
        posted = await self.ledger.post(entry)
        self.on_credit(order["user_id"])
        done = await self.orders.transition(order["_id"], "approved", "credited",
                                            {"ledger_id": entry["_id"]})
        return done or await self.orders.get(order["_id"]) or order, posted["balance_after"]

    async def approve(self, order_id: str, admin_id: str) -> dict[str, Any]:
        """Approve and credit a pending order; safe to repeat or race (credits once)."""
        order = await self.orders.transition(order_id, "pending", "approved",
                                             {"decided_at": utcnow(), "decided_by": admin_id})
        if order is None:
            order = await self.orders.get(order_id)
            if order is None:
                raise NotFound(t("充值订单不存在"))
            if order["status"] == "rejected":
                raise Conflict(t("该订单已被拒绝,不能再批准"))
            if order["status"] == "credited":
                return order
            # "approved": another approval is crediting it, or crashed half-way; finishing is safe.
        credited, _ = await self._credit(order)
        return credited

    async def reject(self, order_id: str, admin_id: str, reason: str = "") -> dict[str, Any]:
        """Reject a pending order; rejecting again is a no-op, rejecting a credited one a 409."""
        order = await self.orders.transition(order_id, "pending", "rejected",
                                             {"decided_at": utcnow(), "decided_by": admin_id,
                                              "reason": reason})
        if order is not None:
            return order
        order = await self.orders.get(order_id)
        if order is None:
            raise NotFound(t("充值订单不存在"))
        if order["status"] == "rejected":
            return order
        raise Conflict(t("该订单已入账,不能拒绝"))

    async def mode(self) -> str:
        """The operator's current recharge mode, so the dashboard offers only the form that works."""
        return (await self.runtime.get()).recharge_mode

    async def list_for_user(self, user_id: str, limit: int,
                            offset: int) -> tuple[list[dict[str, Any]], int]:
        """A user's orders, newest first."""
        return await self.orders.list({"user_id": user_id}, limit, offset)

    async def list(self, limit: int, offset: int, status: str | None = None,
                   user_id: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Everyone's orders, newest first, filtered by status and/or user (operators)."""
        query: dict[str, Any] = {}
        if status:
            query["status"] = status
        if user_id:
            query["user_id"] = user_id
        return await self.orders.list(query, limit, offset)
