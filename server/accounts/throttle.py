"""Login throttling per account and per client IP with exponential back-off.

After ``free_failures`` failed attempts the next one locks a subject for ``base_delay``
seconds, and each further failure doubles the lock up to ``max_delay``. A quiet period of
``reset_after`` seconds forgives the count; a successful login clears the account (not the
IP: one valid account must not let an address keep guessing others). Counters live in the database so
every relay process agrees. Attempts made while locked are refused without being counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.errors import RateLimited
from server.storage.login_attempts import LoginAttemptStore

if TYPE_CHECKING:
    from server.deps import Clock


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, and how the lock grows after that."""

    free_failures: int
    base_delay: float = 1.0
    max_delay: float = 900.0
    reset_after: float = 900.0

    def delay(self, failures: int) -> float:
        """Seconds of lock earned by the ``failures``-th consecutive failure."""
        if failures <= self.free_failures:
            return 0.0
        exponent = min(failures - self.free_failures - 1, 30)
        return min(self.max_delay, self.base_delay * 2 ** exponent)


ACCOUNT_POLICY = ThrottlePolicy(free_failures=5)
IP_POLICY = ThrottlePolicy(free_failures=20)


def account_subject(email: str) -> str:
    return "acct:" + email


def ip_subject(ip: str) -> str:
    return "ip:" + (ip or "unknown")


class LoginThrottle:
    """Refuses logins of locked accounts and addresses; counts failures; clears on success."""

    def __init__(self, store: LoginAttemptStore, clock: "Clock",
                 account: ThrottlePolicy = ACCOUNT_POLICY, ip: ThrottlePolicy = IP_POLICY) -> None:
        self.store = store
        self.clock = clock
        self.account = account
        self.ip = ip

    async def check(self, email: str, ip: str) -> None:
        """Raise a 429 with ``retry-after`` if the account or the address is locked."""
        now = self.clock.now()
        docs = await self.store.get_many([account_subject(email), ip_subject(ip)])
        wait = max((float(d.get("locked_until") or 0) - now for d in docs.values()), default=0.0)
        if wait > 0:
            raise RateLimited(f"登录失败次数过多,请在 {math.ceil(wait)} 秒后重试", retry_after=wait)

    async def failure(self, email: str, ip: str) -> None:
        """Count a failed attempt against both subjects and lock them as the policy says."""
        now = self.clock.now()
        for subject, policy in ((account_subject(email), self.account), (ip_subject(ip), self.ip)):
            failures = await self.store.record_failure(subject, now, policy.reset_after)
            delay = policy.delay(failures)
            if delay > 0:
                await self.store.lock_until(subject, now + delay)

    async def success(self, email: str) -> None:
        """Forget the account's failures."""
        await self.store.clear(account_subject(email))
