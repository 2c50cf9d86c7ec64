"""The maintenance jobs. Each is a plain coroutine over the dependencies, so tests call them
directly instead of waiting for the scheduler; ``register`` puts them on the schedule."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from typing import TYPE_CHECKING, Any, Protocol

from server.jobs.scheduler import Scheduler
from server.storage.ledger import utcnow
from server.storage.login_attempts import LoginAttemptStore
from server.storage.recharge import RedeemCodeStore
from server.storage.rollup_recompute import roll_up_recent
from server.storage.usage_filters import UsageFilters
from server.storage.usage_retention import UsageRetention

if TYPE_CHECKING:
    from server.accounts.recharge import RedeemService
    from server.billing.holds import HoldService
    from server.clock import WallClock
    from server.pools.manager import PoolManager
    from server.settings import Settings
    from server.storage.db import Storage
    from server.storage.ledger import LedgerStore
    from server.storage.runtime_settings import RuntimeSettingsStore
    from server.upstream.client import UpstreamClient

log = logging.getLogger(__name__)


class Expiring(Protocol):
    """A store of rows with an expiry (sticky sessions, context marks, rate windows): the jobs
    need only its purge, not the relay's services behind it."""

    async def purge_expired(self) -> int: ...

LOGIN_QUIET = 3600.0  # longer than the throttle's reset_after and max_delay (15 min each)

# name -> interval in seconds (health probes use settings.health_probe_interval).
INTERVALS = {"ledger_repair": 60.0, "rollups": 300.0, "retention": 3600.0, "sticky_cleanup": 600.0,
             "rate_windows": 300.0, "expired_codes": 600.0, "login_attempts": 900.0}


class MaintenanceJobs:
    """Every background job of one process, as methods returning what they did."""

    def __init__(self, storage: Storage, settings: Settings, clock: WallClock, *, pools: PoolManager,
                 upstream_client: UpstreamClient, ledger: LedgerStore, redeem: RedeemService,
                 holds: HoldService, runtime_settings: RuntimeSettingsStore, sticky: Expiring,
                 context: Expiring, limits: Expiring) -> None:
        self.storage = storage  # the roll-up recompute and the stores of the purge jobs
        self.settings = settings
        self.clock = clock
        self.pools = pools
        self.upstream_client = upstream_client
        self.ledger = ledger
        self.redeem = redeem
        self.holds = holds
        self.runtime_settings = runtime_settings
        self.sticky = sticky
        self.context = context
        self.limits = limits
        self._filters = UsageFilters(storage)
        self._retention = UsageRetention(storage, self._filters)

    async def health_probes(self) -> dict[str, Any]:
        """Probe every enabled account that is healthy or cooling after a transport error;
        those that answer come back at once, failing ones go through the error rules. An
        account resting until a reset time (a 429's ``retry-after``, a rule's duration) is left
        alone until then: a probe could not end that rest early, only spend its limit."""
        pools = self.pools
        await pools.reload()
        now = self.clock.now()
        targets = [a.id for a in pools.accounts.values()
                   if a.doc.get("enabled", True) and _probe_due(a.doc.get("state") or {}, now)]
        results = await asyncio.gather(*(self._probe_one(i, len(targets)) for i in targets))
        return {"probed": len(targets), "ok": sum(1 for r in results if r.get("ok"))}

    async def _probe_one(self, account_id: str, count: int) -> dict[str, Any]:
        # Spread the probes over a tenth of the interval so accounts are not hit in one burst.
        if count > 1:
            await asyncio.sleep(random.uniform(0, min(3.0, self.settings.health_probe_interval / 10)))
        try:
            return await self.pools.probe(account_id, self.upstream_client)
        except Exception:  # noqa: BLE001 - one bad account must not stop the others' probes
            log.exception("health probe of %s failed", account_id)
            return {"ok": False}

    async def ledger_repair(self) -> dict[str, int]:
        """Re-drive half-applied ledger entries, then drop old idempotency marks."""
        # A live flush writes its entry, its rows, the balance move and the close, each bounded
        # by db_timeout_flush: repair only entries older than every such flush could still be
        # writing to, so it never closes an entry whose rows are still arriving.
        grace = max(600.0, 4 * self.settings.db_timeout_flush + 60)
        repaired = await self.ledger.repair_pending(older_than=grace)
        repaired += await self.redeem.repair()
        repaired += await self.holds.repair()  # holds a crashed process left behind
        pruned = await self.ledger.prune_marks()
        return {"repaired": repaired, "pruned_marks": pruned}

    async def rollups(self) -> dict[str, Any]:
        """Recompute the hour that just closed (once)."""
        return await roll_up_recent(self.storage, filters=self._filters)

    async def retention(self) -> dict[str, int]:
        """Delete raw usage rows older than ``log_retention_days``; their roll-ups (written
        every few minutes, long before) are kept."""
        days = (await self.runtime_settings.get()).log_retention_days
        cutoff = utcnow() - dt.timedelta(days=days)
        deleted = await self._retention.delete_before(cutoff)
        if deleted:
            log.info("retention: deleted %d usage rows older than %d days", deleted, days)
        return {"deleted": deleted}

    async def sticky_cleanup(self) -> dict[str, int]:
        """Drop expired session → account mappings and encrypted-context fingerprints."""
        marks = await self.context.purge_expired()
        return {"deleted": await self.sticky.purge_expired(), "context_marks": marks}

    async def rate_windows(self) -> dict[str, int]:
        """Drop rate-limit counters and concurrency slots past their expiry."""
        return {"deleted": await self.limits.purge_expired()}

    async def expired_codes(self) -> dict[str, int]:
        """Mark active redeem codes past their expiry as ``expired``."""
        return {"expired": await RedeemCodeStore(self.storage).expire_due(utcnow())}

    async def login_attempts(self) -> dict[str, int]:
        """Forget login counters that are unlocked and quiet for longer than any reset period
        (a guesser spraying random emails would otherwise grow the collection without bound)."""
        store = LoginAttemptStore(self.storage)
        return {"deleted": await store.prune(self.clock.now() - LOGIN_QUIET)}


def _probe_due(state: dict[str, Any], now: float) -> bool:
    if state.get("status") == "disabled":
        return False
    if state.get("status") == "cooling" and state.get("cooldown_until", 0) > now:
        return state.get("kind") == "transport"
    return True


def register(scheduler: Scheduler, jobs: MaintenanceJobs, probe_interval: float) -> None:
    """Put every job on the schedule (probes jittered by a fifth of their interval)."""
    scheduler.add("health_probes", jobs.health_probes, probe_interval, jitter=probe_interval / 5)
    for name, interval in INTERVALS.items():
        scheduler.add(name, getattr(jobs, name), interval, jitter=min(30.0, interval / 10))
