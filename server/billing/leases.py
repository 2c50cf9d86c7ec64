"""Budget leases: each relay process sets aside one larger hold per user (and per key with a
spend quota) and admits that user's requests against it locally, so a billable call costs no
database round trip at admission (issue 15). The meaning of a hold does not change: money set
aside, counted in ``held`` on the user's (or key's) document, checked against the balance (or
the quota) by the same conditional update as a per-request hold.

Local accounting per lease (all in estimates, the same ones per-request holds use):

* ``outstanding``: estimates of requests admitted by this process and not yet charged (in flight,
  or finished and waiting for the usage flush). Settled requests leave it (``settle``).
* ``used``: what was admitted against the lease since it was taken, ``outstanding`` at that time
  included. A request is admitted locally while ``used + estimate ≤ amount``; charges are never
  given back to the lease (they moved the balance, the lease did not), so the lease is renewed
  when it is used up, and at the latest every ``hold_lease_seconds``.
* A renewal replaces the lease by ``outstanding + estimate + headroom`` (headroom
  ``hold_lease_requests`` estimates, times a scale that doubles, up to 16, while the lease runs
  out within a second and halves when it lasts its period), shrunk to what the balance (quota)
  covers; it needs at
  least ``outstanding + estimate`` covered: exactly the per-request rule, where ``held`` held the
  outstanding estimates. So refusals are decided on a fresh read, as before.

Accuracy (README, "Budget leases"): with estimates that cover the real cost the balance never
ends below ``−overdraft``, and a quota is passed by at most the last request admitted, as with
per-request holds. What changes: (1) up to ``hold_lease_requests`` estimates per user and
process (×16 for a user busy enough to use that up within a second) are set aside beyond what
is in flight (so a user near the end of the balance sees
smaller leases, down to one request each: then every call pays the round trip again); (2) a
user or key disabled, or a quota lowered, takes effect at the next renewal: within
``hold_lease_seconds`` or when the lease is used up, whichever comes first; (3) an idle lease is
given back after ``hold_lease_seconds``; a crashed process's lease is released by the repair job
after ``LEASE_TTL`` (it is extended while requests under it are in flight)."""

from __future__ import annotations

import time
from dataclasses import dataclass

LEASE_TTL = 300.0  # seconds before the repair job may release a lease its process stopped renewing
MAX_SCALE = 16  # a lease's headroom is at most this many times hold_lease_requests estimates


@dataclass
class Lease:
    """This process's lease on one user or key document."""

    amount: int = 0  # set aside on the document
    used: int = 0  # admitted against it since it was taken
    outstanding: int = 0  # admitted and not yet charged
    renew_at: float = 0.0  # monotonic time after which the next admission renews it
    unlimited: bool = False  # a key without a quota: only its status is leased (re-read at renewal)
    scale: int = 1  # headroom multiplier: doubles while the lease runs out within a second
    renewed_at: float = 0.0  # monotonic time of the last renewal

    def admits(self, amount: int, now: float) -> bool:
        """Whether ``amount`` fits without asking the database."""
        return now < self.renew_at and (self.unlimited or self.used + amount <= self.amount)

    def admit(self, amount: int) -> None:
        self.used += amount
        self.outstanding += amount

    def next_scale(self, now: float) -> int:
        """A busy user's lease grows (×2 up to ``MAX_SCALE``) while it runs out within a second of
        its renewal, and shrinks back when it lasts until its period: renewals stay a few a
        second per user at any rate, without setting aside more than a second's worth for long."""
        if self.renew_at and now < self.renew_at and now - self.renewed_at < 1.0:
            self.scale = min(MAX_SCALE, self.scale * 2)
        elif self.renew_at and now >= self.renew_at:
            self.scale = max(1, self.scale // 2)
        return self.scale

    def renewed(self, granted: int, amount: int, period: float, unlimited: bool = False) -> None:
        """A renewal granted ``granted``; the request that asked for it is admitted under it."""
        self.renewed_at = time.monotonic()
        self.amount, self.unlimited = granted, unlimited
        self.used = self.outstanding + amount
        self.outstanding += amount
        self.renew_at = time.monotonic() + period

    def settle(self, amount: int) -> None:
        self.outstanding = max(0, self.outstanding - amount)


class LeaseBook:
    """The leases of this process and which request was admitted under which (for settling)."""

    def __init__(self, process_id: str) -> None:
        self.hold_id = "lease_" + process_id  # the hold's id on every document this process leases
        self.users: dict[str, Lease] = {}
        self.keys: dict[str, Lease] = {}
        self.open: dict[str, tuple[str, str, int]] = {}  # request id -> (user, key, estimate)

    def user(self, user_id: str) -> Lease:
        lease = self.users.get(user_id)
        if lease is None:
            lease = self.users[user_id] = Lease()
        return lease

    def key(self, key_id: str) -> Lease:
        lease = self.keys.get(key_id)
        if lease is None:
            lease = self.keys[key_id] = Lease()
        return lease

    def opened(self, request_id: str, user_id: str, key_id: str, amount: int) -> None:
        self.open[request_id] = (user_id, key_id, amount)

    def close(self, request_id: str) -> bool:
        """Settle one request admitted here; False if this process never admitted it."""
        entry = self.open.pop(request_id, None)
        if entry is None:
            return False
        user_id, key_id, amount = entry
        if user_id in self.users:
            self.users[user_id].settle(amount)
        if key_id in self.keys:
            self.keys[key_id].settle(amount)
        return True

    def expire(self, user_id: str) -> None:
        """Make the next admission of this user renew (re-read) its lease."""
        lease = self.users.get(user_id)
        if lease is not None:
            lease.renew_at = 0.0
