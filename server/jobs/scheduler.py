"""The owned scheduler: APScheduler's ``AsyncIOScheduler`` behind a small wrapper that runs each
job under its lease and catches and logs the job's own failures, so one failing job never
stops the others (or itself on the next tick). Started after start-up, stopped on shutdown."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from server.clock import Clock, WallClock
from server.jobs.leases import LeaseStore
from server.storage.timeouts import deadline

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[Any]]


@dataclass
class JobInfo:
    """One registered job and what happened the last time it ran."""

    name: str
    func: JobFunc
    interval: float
    jitter: float = 0.0
    lease: bool = True
    runs: int = 0
    failures: int = 0
    skipped: int = 0
    last_result: Any = None
    last_error: str = ""
    last_run: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Scheduler:
    """Interval jobs, each run by one process per interval (lease) and never fatal."""

    def __init__(self, leases: LeaseStore, db_timeout: float = 300.0, clock: WallClock | None = None) -> None:
        self.leases = leases
        self.db_timeout = db_timeout  # the database work of one run (db_timeout_jobs)
        self.clock: WallClock = clock or Clock()  # each job's last run, as the overview shows it
        self.jobs: dict[str, JobInfo] = {}
        self._aps: AsyncIOScheduler | None = None

    def add(self, name: str, func: JobFunc, interval: float, jitter: float = 0.0,
            lease: bool = True) -> None:
        """Register a job (before ``start``)."""
        self.jobs[name] = JobInfo(name, func, interval, jitter, lease)

    @property
    def running(self) -> bool:
        return self._aps is not None and self._aps.running

    def start(self) -> None:
        """Start firing jobs on the running event loop."""
        if self.running:
            return
        self._aps = AsyncIOScheduler(timezone="UTC")
        for job in self.jobs.values():
            self._aps.add_job(self.run_job, "interval", args=[job.name], id=job.name,
                              seconds=job.interval, jitter=job.jitter or None,
                              max_instances=1, coalesce=True, misfire_grace_time=None)
        self._aps.start()

    async def stop(self) -> None:
        """Stop firing; a job already running finishes on its own."""
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None

    async def run_job(self, name: str) -> bool:
        """Run ``name`` once if its lease is ours; True if it ran (even if it failed)."""
        with deadline(self.db_timeout):  # a stalled database fails the run, never hangs it
            return await self._run_job(self.jobs[name])

    async def _run_job(self, job: JobInfo) -> bool:
        name = job.name
        try:
            if job.lease and not await self.leases.acquire(f"job:{name}", max(1.0, job.interval * 0.9)):
                job.skipped += 1
                return False
        except Exception:  # noqa: BLE001 - the database may be away; try again next tick
            log.exception("job %s: could not take its lease", name)
            job.failures += 1
            return False
        job.runs += 1
        job.last_run = self.clock.now()
        try:
            job.last_result = await job.func()
            job.last_error = ""
        except Exception as exc:  # noqa: BLE001 - a failing job must not stop the scheduler
            job.failures += 1
            job.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("job %s failed", name)
        return True

    def status(self) -> list[dict[str, Any]]:
        """What each job did last (operator overview)."""
        return [{"name": j.name, "interval": j.interval, "runs": j.runs, "failures": j.failures,
                 "skipped": j.skipped, "last_run": j.last_run or None, "last_error": j.last_error or None}
                for j in self.jobs.values()]
