"""Login throttling per account and per client address with exponential back-off.

Each subject (the account's email, the client's address) gets ``attempts`` password checks;
the check that uses the last one locks the subject *before* bcrypt runs (a provisional hold,
replaced by ``base_delay`` seconds if it fails, doubling with each further failure up to
``max_delay``). Counting and checking are one atomic update per subject
(``LoginAttemptStore.admit``), so a parallel burst of wrong passwords gets at most
``attempts`` bcrypt checks. A quiet period of ``reset_after`` seconds forgives the count.
Attempts refused while locked are not counted.

The two locks are separate. An account lock refuses that account from everywhere. An address
lock refuses the address, except for an account with no failed attempt in its window: the
right password of a user who shares an address (an office, a proxy) with someone guessing other
accounts still works, while the guesser gets at most one try per account per window from a
locked address. A success clears the account and gives its count back to the address.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.errors import RateLimited
from server.i18n import t
from server.storage.login_attempts import LoginAttemptStore

if TYPE_CHECKING:
    from server.clock import Clock

HOLD_SECONDS = 30.0  # a provisional lock outlives any password check; a crashed process frees it


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many password checks a subject gets, and how the lock grows after that."""

    attempts: int
    base_delay: float = 1.0
    max_delay: float = 900.0
    reset_after: float = 900.0

    def delay(self, failures: int) -> float:
        """Seconds of lock earned by the ``failures``-th consecutive failure."""
        if failures < self.attempts:
            return 0.0
        exponent = min(failures - self.attempts, 30)
        return min(self.max_delay, self.base_delay * 2 ** exponent)


ACCOUNT_POLICY = ThrottlePolicy(attempts=5)
IP_POLICY = ThrottlePolicy(attempts=20)


def account_subject(email: str) -> str:
    return "acct:" + email


def ip_subject(ip: str) -> str:
    return "ip:" + (ip or "unknown")


@dataclass
class Ticket:
    """One admitted attempt: which slots it took, so its outcome can settle them."""

    email: str
    ip: str
    hold: str
    account_n: int
    ip_n: int | None  # None: admitted past a locked address (clean account)


class LoginThrottle:
    """Admits password checks, settles their outcome; 429 with ``retry-after`` when locked."""

    def __init__(self, store: LoginAttemptStore, clock: "Clock",
                 account: ThrottlePolicy = ACCOUNT_POLICY, ip: ThrottlePolicy = IP_POLICY) -> None:
        self.store = store
        self.clock = clock
        self.account = account
        self.ip = ip

    async def admit(self, email: str, ip: str) -> Ticket:
        """Take one attempt for the account and the address, or raise a 429."""
        now = self.clock.now()
        hold = uuid.uuid4().hex
        acct, addr = account_subject(email), ip_subject(ip)
        await self.store.prepare(acct, now, self.account.reset_after)
        account_n = await self.store.admit(acct, now, self.account.attempts, hold, now + HOLD_SECONDS)
        if account_n is None:
            await self._refuse(acct, now)
        await self.store.prepare(addr, now, self.ip.reset_after)
        ip_n = await self.store.admit(addr, now, self.ip.attempts, hold, now + HOLD_SECONDS)
        if ip_n is None and account_n != 1:
            await self.store.give_back(acct, hold)  # refused: not counted
            await self._refuse(addr, now)
        return Ticket(email, ip, hold, int(account_n or 0), ip_n)

    async def failed(self, ticket: Ticket) -> None:
        """The password was wrong: turn provisional holds into the locks the policy earns."""
        now = self.clock.now()
        await self.store.settle_hold(account_subject(ticket.email), ticket.hold,
                                     now + self.account.delay(ticket.account_n), now)
        if ticket.ip_n is not None:
            await self.store.settle_hold(ip_subject(ticket.ip), ticket.hold,
                                         now + self.ip.delay(ticket.ip_n), now)

    async def succeeded(self, ticket: Ticket) -> None:
        """The password was right: forget the account's failures, give the address its try back."""
        await self.store.clear(account_subject(ticket.email))
        if ticket.ip_n is not None:
            await self.store.give_back(ip_subject(ticket.ip), ticket.hold)

    async def abandoned(self, ticket: Ticket) -> None:
        """The check itself failed (the database timed out, say): the attempt was no guess, so
        its count and provisional lock go back; best effort, the lock expires on its own."""
        for subject in (account_subject(ticket.email), ip_subject(ticket.ip)):
            try:
                await self.store.give_back(subject, ticket.hold)
            except Exception:  # noqa: BLE001 - the database may be the reason we are here
                log.warning("could not give back the login attempt of %s", subject)

    async def _refuse(self, subject: str, now: float) -> None:
        doc = await self.store.get(subject)
        wait = max(1.0, float((doc or {}).get("locked_until") or 0) - now)
        raise RateLimited(t("登录失败次数过多,请在 {seconds} 秒后重试", seconds=math.ceil(wait)),
                          retry_after=wait)
