"""Money that cannot run away: every billable request holds an estimate of its cost against the
user's balance and the key's spend quota before it reaches an upstream; the hold is settled
(released) once the real charge is in the ledger.

Estimate: the whole body counted as input (one token per ``INPUT_BYTES_PER_TOKEN`` bytes, at the
full input price: no cache discount assumed) plus the output up to ``min(max_tokens,
hold_output_cap)`` at the output price, with the group's multiplier. A request is refused
when ``balance − held − estimate < −overdraft``; a key with a quota when ``spent + held ≥ quota``.
So with estimates that cover the real cost the balance never ends below ``−overdraft``, and a
quota is passed by at most the last request admitted under it.

Settling happens in the usage flush right after the charge (``ChargeService.charge_many``): the
charge lands first, then the hold goes, so ``balance − held`` is never too generous in between.
A request whose process crashed is settled by the repair job: its hold goes as soon as its usage
row exists, or when its lease (``HOLD_LEASE``) runs out.

Budget leases (issue 15, ``server.billing.leases``, on unless ``hold_lease_requests`` is 0): a
process takes one larger hold per user (and per key with a quota) and admits requests against it
locally, so admission costs no database round trip; settling is local too. The accuracy is
written down in that module and in the README ("Budget leases"). With ``hold_lease_requests = 0``
every request takes and settles its own hold as described above."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Protocol

from server.billing.leases import LEASE_TTL, LeaseBook
from server.clock import Clock, WallClock
from server.errors import Forbidden, InsufficientBalance, RateLimited, Unauthorized
from server.i18n import t
from server.ids import new_id
from server.pricing.pricing import PriceRule, compute_cost
from server.pricing.usage import Usage
from server.storage.holds import HoldStore

if TYPE_CHECKING:
    from server.billing.charges import UsageRecord
    from server.settings import Settings

log = logging.getLogger(__name__)


class RelayContext(Protocol):
    """What a hold reads of an admitted request (``server.relay.context.RelayContext``); a
    protocol so that billing, below the relay, does not import it."""

    request_id: str
    protocol: str
    key: dict[str, Any]
    user: dict[str, Any]
    body: dict[str, Any]
    body_bytes: bytes
    rule: PriceRule | None
    multiplier_ppm: int
    hold: int

INPUT_BYTES_PER_TOKEN = 3  # English runs ~4 bytes a token, CJK ~3: 3 over-counts JSON, not text
HOLD_LEASE = 3600.0  # seconds before the repair job releases a hold whose request never reported


def estimate(ctx: "RelayContext", output_cap: int) -> int:
    """The micro-units held for ``ctx``: input in full, output up to the cap."""
    if ctx.rule is None:
        return 0
    body = ctx.body
    asked = body.get("max_tokens") if ctx.protocol == "anthropic" else body.get("max_output_tokens")
    output = output_cap
    if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0:
        output = min(asked, output_cap)
    usage = Usage(input=math.ceil(len(ctx.body_bytes) / INPUT_BYTES_PER_TOKEN), output=output)
    return compute_cost(usage, ctx.rule, ctx.multiplier_ppm).total


class HoldService:
    """Takes holds at admission, settles them after the charge, repairs crashed ones."""

    def __init__(self, store: HoldStore, settings: "Settings", clock: WallClock | None = None,
                 on_refused: Callable[[str, str], object] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.clock: WallClock = clock or Clock()
        self._locks: dict[str, asyncio.Lock] = {}  # one take at a time per user in this process
        self.on_refused = on_refused  # (key_id, user_id): drop cached lookups of a refused key
        self.leases = LeaseBook(new_id("p"))
        self._last_sweep = time.monotonic()

    @property
    def leasing(self) -> bool:
        return int(getattr(self.settings, "hold_lease_requests", 0) or 0) > 0

    async def take(self, ctx: "RelayContext") -> None:
        """Hold the estimate on the key and the user, or raise the seed's refusal."""
        amount = estimate(ctx, self.settings.hold_output_cap)
        if amount <= 0:  # a free model: nothing to set aside, but the switches still hold
            await self._check_active(ctx)
            return
        if self.leasing:
            await self._take_leased(ctx, amount)
            return
        expires = self.clock.now() + HOLD_LEASE
        key, user_id = ctx.key, ctx.user["_id"]
        # One take at a time per user in this process (its keys included): the compare-and-set
        # updates then only race other processes, never each other.
        async with self._lock(user_id):
            outcome = await self.store.take_key(key["_id"], ctx.request_id, amount,
                                                int(key.get("spend_quota") or 0), expires)
            result = "ok"
            if outcome == "ok":
                result, _doc = await self.store.take_user(user_id, ctx.request_id, amount,
                                                          self.settings.overdraft, expires)
                if result != "ok":
                    await self.store.release("api_keys", key["_id"], {ctx.request_id: amount})
        if outcome != "ok":
            self._refuse_key(outcome, key["_id"], user_id)
        if result != "ok":
            self._refuse_user(result, key["_id"], user_id)
        ctx.hold = amount

    def _refuse_key(self, outcome: str, key_id: str, user_id: str) -> NoReturn:
        """The key's hold or lease was refused: its quota is spent, or it is disabled."""
        self._refused(key_id, user_id)
        if outcome == "quota":
            raise InsufficientBalance(t("API Key 已达到消费额度上限"), type="quota_exceeded")
        raise Unauthorized(t("API Key 已禁用"))

    def _refuse_user(self, result: str, key_id: str, user_id: str) -> NoReturn:
        """The user's hold or lease was refused: no balance left, contention, or a disabled account."""
        self._refused(key_id, user_id)
        if result == "insufficient":
            raise InsufficientBalance()
        if result == "busy":
            raise RateLimited(t("并发请求过多,请稍后再试"), retry_after=1)
        raise Forbidden(t("账户已被禁用")) if result == "disabled" else Unauthorized(t("无效的 API Key"))

    async def _take_leased(self, ctx: "RelayContext", amount: int) -> None:
        """Admit against this process's leases of the key and the user; renew what does not fit
        (a fresh read and one compare-and-set each, per-request rules: see server.billing.leases)."""
        key, user_id = ctx.key, ctx.user["_id"]
        book, now = self.leases, time.monotonic()
        key_lease, user_lease = book.key(key["_id"]), book.user(user_id)
        lock = self._lock(user_id)
        # While a renewal is on its way nothing is admitted against the lease it replaces: the
        # renewal sizes the new lease by what is outstanding when it reads.
        if lock.locked() or not (key_lease.admits(amount, now) and user_lease.admits(amount, now)):
            async with lock:
                await self._renew(ctx, amount)
                return
        key_lease.admit(amount)
        user_lease.admit(amount)
        book.opened(ctx.request_id, user_id, key["_id"], amount)
        ctx.hold = amount

    async def _renew(self, ctx: "RelayContext", amount: int) -> None:
        key, user_id = ctx.key, ctx.user["_id"]
        book, now = self.leases, time.monotonic()
        key_lease, user_lease = book.key(key["_id"]), book.user(user_id)
        headroom = amount * int(self.settings.hold_lease_requests)
        period = float(self.settings.hold_lease_seconds)
        expires = self.clock.now() + LEASE_TTL
        quota = int(key.get("spend_quota") or 0)
        key_ok = key_lease.admits(amount, now) and key_lease.unlimited == (quota <= 0)
        if not key_ok:
            need = key_lease.outstanding + amount
            want = need + headroom * key_lease.next_scale(now)
            outcome, granted = await self.store.lease_key(key["_id"], book.hold_id, want, need,
                                                          amount, quota, expires)
            if outcome != "ok":
                self._refuse_key(outcome, key["_id"], user_id)
            key_lease.renewed(granted, 0, period, unlimited=quota <= 0)  # what the document now says
        if not user_lease.admits(amount, now):
            need = user_lease.outstanding + amount
            want = need + headroom * user_lease.next_scale(now)
            result, granted_user = await self.store.lease_user(user_id, book.hold_id, want, need,
                                                               self.settings.overdraft, expires)
            if result != "ok":
                self._refuse_user(result, key["_id"], user_id)
            user_lease.renewed(granted_user, amount, period)
        else:
            user_lease.admit(amount)
        key_lease.admit(amount)
        book.opened(ctx.request_id, user_id, key["_id"], amount)
        ctx.hold = amount

    async def sweep(self) -> int:
        """Give back idle leases (nothing outstanding, not renewed for ``hold_lease_seconds``)
        and extend the expiry of leases with requests in flight; returns how many were dropped.
        Called from the usage flush, at most once a renewal period."""
        now = time.monotonic()
        period = float(getattr(self.settings, "hold_lease_seconds", 5.0))
        if now - self._last_sweep < period:
            return 0
        self._last_sweep = now
        dropped = 0
        expires = self.clock.now() + LEASE_TTL
        for collection, book in (("users", self.leases.users), ("api_keys", self.leases.keys)):
            for doc_id, lease in list(book.items()):
                if lease.outstanding == 0 and now >= lease.renew_at:
                    if lease.amount and not lease.unlimited:
                        await self.store.drop_lease(collection, doc_id, self.leases.hold_id, lease.amount)
                    del book[doc_id]
                    dropped += 1
                elif lease.amount and not lease.unlimited:
                    await self.store.extend_lease(collection, doc_id, self.leases.hold_id, lease.amount,
                                                  expires)
        return dropped

    async def give_back(self) -> None:
        """Shutdown: release every lease of this process (after the final flush)."""
        for collection, book in (("users", self.leases.users), ("api_keys", self.leases.keys)):
            for doc_id, lease in list(book.items()):
                if lease.amount and not lease.unlimited and lease.outstanding == 0:
                    await self.store.drop_lease(collection, doc_id, self.leases.hold_id, lease.amount)
                    del book[doc_id]

    def expire(self, user_id: str) -> None:
        """The user's balance ran out (a flush saw it): the next admission re-reads it."""
        self.leases.expire(user_id)

    def _lock(self, user_id: str) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            if len(self._locks) >= 10_000:  # bounded: forget the idle ones
                self._locks = {u: held for u, held in self._locks.items() if held.locked()}
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    async def check_free(self, ctx: "RelayContext") -> None:
        """A free call (count_tokens): the key active and balance − held positive, read now."""
        available = await self._check_active(ctx)
        lease = self.leases.users.get(ctx.user["_id"])
        if lease is not None and not lease.unlimited:  # this process's own lease is not spent money
            available += lease.amount - lease.outstanding
        if available <= 0:
            raise InsufficientBalance()

    async def _check_active(self, ctx: "RelayContext") -> int:
        """The user and the key active now (read, not cached); returns balance − held."""
        seen = await self.store.available(ctx.user["_id"])
        if seen is None:
            raise Unauthorized(t("无效的 API Key"))
        available, status = seen
        if status != "active":
            self._refused(ctx.key["_id"], ctx.user["_id"])
            raise Forbidden(t("账户已被禁用"))
        if not await self.store.key_active(ctx.key["_id"]):
            self._refused(ctx.key["_id"], ctx.user["_id"])
            raise Unauthorized(t("API Key 已禁用"))
        return available

    def _refused(self, key_id: str, user_id: str) -> None:
        if self.on_refused is not None:
            self.on_refused(key_id, user_id)

    async def settle(self, records: list["UsageRecord"]) -> None:
        """Release the holds of charged requests (idempotent: a re-driven flush releases nothing)."""
        by_user: dict[str, dict[str, int]] = {}
        by_key: dict[str, dict[str, int]] = {}
        for record in records:
            if record.hold and self.leases.close(record.request_id):
                continue  # admitted under this process's lease: settled here, nothing to write
            if record.hold:
                by_key.setdefault(record.key_id, {})[record.request_id] = record.hold
                by_user.setdefault(record.user_id, {})[record.request_id] = record.hold
        for key_id, holds in by_key.items():
            await self.store.release("api_keys", key_id, holds)
        for user_id, holds in by_user.items():
            await self.store.release("users", user_id, holds)
        if self.leasing:
            await self.sweep()

    async def repair(self) -> int:
        """Release holds whose request is charged (the process crashed before settling) or
        whose lease ran out (the process crashed before charging); returns how many."""
        now = self.clock.now()
        released = 0
        for collection in ("api_keys", "users"):
            for doc in await self.store.with_holds(collection):
                holds = {h: v for h, v in (doc.get("holds") or {}).items() if isinstance(v, dict)}
                charged = await self.store.charged(holds)
                due = {h: int(v.get("a") or 0) for h, v in holds.items()
                       if h in charged or float(v.get("x") or 0) < now}
                released += await self.store.release(collection, doc["_id"], due)
        if released:
            log.warning("hold repair: released %d holds left by stopped requests", released)
        return released
