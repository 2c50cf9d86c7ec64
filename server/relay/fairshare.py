"""Fair share of a group's pool: how many upstream requests one user may hold at once.

Where every enabled account of the group sets ``max_concurrency``, a user may hold
``user_pool_share`` of the group's capacity (at least 1); where any account is unlimited, a plain
``user_max_concurrency`` (8 by default: Claude Code runs a few parallel sub-agents). A key is
bounded by its user's share (and by its own ``maxConcurrency``, counted in the database).

Counted per process, like the accounts' ``max_concurrency`` it divides (README: Known limits):
with N workers each process gives each user its share of that process's capacity. Past the
share: 429 with ``retry-after`` (the clients retry on it)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from server.errors import RateLimited

if TYPE_CHECKING:
    from server.pools.manager import PoolManager
    from server.settings import Settings

RETRY_AFTER = 2.0
MESSAGE = "并发请求过多,请稍后再试(单个用户可同时占用的上游连接已达上限)"


class Share:
    """One admitted request's place in its user's share; release it exactly once."""

    __slots__ = ("owner", "slot", "released")

    def __init__(self, owner: "FairShare", slot: tuple[str, str]) -> None:
        self.owner = owner
        self.slot = slot
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.owner._drop(self.slot)


class FairShare:
    """Per-process counts of upstream requests by (user, group)."""

    def __init__(self, settings: "Settings", pools: "PoolManager") -> None:
        self.settings = settings
        self.pools = pools
        self.held: dict[tuple[str, str], int] = {}

    def limit(self, group: str) -> int:
        """How many requests one user may hold in ``group`` now."""
        caps = [int(a.doc.get("max_concurrency") or 0) for a in self.pools.group_accounts(group)
                if a.doc.get("enabled", True)]
        if caps and all(c > 0 for c in caps):
            return max(1, math.floor(sum(caps) * self.settings.user_pool_share))
        return self.settings.user_max_concurrency

    def acquire(self, user_id: str, group: str) -> Share:
        """A place in the user's share of ``group``, or RateLimited with retry-after."""
        slot = (user_id, group)
        current = self.held.get(slot, 0)
        if current >= self.limit(group):
            raise RateLimited(MESSAGE, retry_after=RETRY_AFTER)
        self.held[slot] = current + 1
        return Share(self, slot)

    def _drop(self, slot: tuple[str, str]) -> None:
        left = self.held.get(slot, 0) - 1
        if left > 0:
            self.held[slot] = left
        else:
            self.held.pop(slot, None)
