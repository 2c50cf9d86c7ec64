"""Usage recording off the request path: finished requests are queued and written in batches
(``ChargeService.charge_many``) every ``interval`` seconds, and on shutdown.

A crash loses nothing: each record is first appended to the local usage journal
(``server/billing/journal.py``), replayed at the next start (README: Operations). A failed
flush keeps its records and retries them on the next tick; charges are idempotent by request
id, so a retried batch never double-charges."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from pymongo.errors import ConnectionFailure, ExecutionTimeout, WTimeoutError

from server.billing.charges import ChargeService, UsageRecord
from server.storage.timeouts import database_unavailable, deadline

if TYPE_CHECKING:
    from server.billing.journal import UsageJournal

log = logging.getLogger(__name__)

# Errors that say the database is slow or away, not that a record is bad.
TRANSIENT = (ConnectionFailure, ExecutionTimeout, WTimeoutError, asyncio.TimeoutError)


class UsageRecorder:
    """Batches usage records and writes them in the background."""

    def __init__(self, charges: ChargeService, interval: float, max_batch: int = 500,
                 max_pending: int = 20_000, journal: "UsageJournal | None" = None,
                 db_timeout: float = 30.0) -> None:
        self.charges = charges
        self.journal = journal
        self.db_timeout = db_timeout  # one batch write's bound (db_timeout_flush); then it waits whole
        # Journaled at the answer's end, not queued yet (the handler queues them a moment later):
        # what an emptied journal must keep.
        self._journaled: dict[str, UsageRecord] = {}
        self.interval = interval
        self.max_batch = max_batch
        # Past this many unwritten records the database is not keeping up: admission refuses new
        # calls (503, retry-after) until the backlog halves, so memory stays bounded and every
        # answered call is still billed.
        self.max_pending = max_pending
        self._backlogged = False
        self._progress = asyncio.Event()
        self._pending: list[UsageRecord] = []
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._stopping = False
        self.written = 0
        self.failed: list[UsageRecord] = []  # records that could not be written, for operators

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="usage-recorder")

    def journal_append(self, record: UsageRecord) -> None:
        """Append a finished request to the local journal (one small write; never raises)."""
        if self.journal is not None:
            self.journal.append(record)
            self._journaled[record.request_id] = record

    def record(self, record: UsageRecord, journaled: bool = False) -> None:
        """Queue one finished request, journaled first unless it already is (never raises)."""
        if not journaled:
            self.journal_append(record)
        self._journaled.pop(record.request_id, None)
        self._pending.append(record)
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def wait_for_room(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the backlog is under its mark; True if it is.
        Waiting rather than refusing at once turns a burst into latency: clients that send
        one request after another slow down to the rate the database writes at."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.backlogged:
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._progress.wait(), left)
            except asyncio.TimeoutError:
                return not self.backlogged
        return True

    @property
    def backlogged(self) -> bool:
        """True while the backlog is over ``max_pending`` (and until it is back under half)."""
        n = len(self._pending)
        if self._backlogged:
            self._backlogged = n > self.max_pending // 2
        else:
            self._backlogged = n > self.max_pending
        return self._backlogged

    async def flush(self) -> int:
        """Write everything queued now; returns how many records were written."""
        async with self._flush_lock:
            written = 0
            while self._pending:
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                try:
                    with deadline(self.db_timeout):
                        await self.charges.charge_many(batch)
                    written += len(batch)
                    self._progress.set()  # wake callers waiting for room (see wait_for_room)
                    self._progress = asyncio.Event()
                except TRANSIENT:
                    self._pending[:0] = batch  # the database is slow or away: all of it waits
                    raise
                except Exception:  # noqa: BLE001 - isolate the record that fails, keep the rest
                    log.exception("usage batch of %d failed; writing its records one by one", len(batch))
                    written += await self._one_by_one(batch)
            self.written += written
            if self.journal is not None and not self._pending:
                # All of it is in the database (or set aside durably) but what is not queued yet.
                self.journal.truncate(keep=list(self._journaled.values()))
            return written

    async def _one_by_one(self, batch: list[UsageRecord]) -> int:
        """Charge each record alone: a record that cannot be written (a bad document, say) is
        set aside for an operator instead of blocking every charge queued behind it. If the
        database itself is down, everything goes back to the queue for the next tick."""
        written = 0
        for index, record in enumerate(batch):
            try:
                with deadline(self.db_timeout):
                    await self.charges.charge_many([record])
                written += 1
            except Exception as exc:  # noqa: BLE001
                # A slow or unreachable database is never the record's fault: everything waits
                # for the next tick (idempotent when retried). Only an error about the record
                # itself (a write error, a bad document) sets it aside.
                if isinstance(exc, TRANSIENT) or database_unavailable(exc) or not await self._ping():
                    self._pending[:0] = batch[index:]
                    raise
                log.error("usage record %s (user %s, key %s) could not be written and is set aside: %s",
                          record.request_id, record.user_id, record.key_id, exc)
                self.failed.append(record)
                del self.failed[:-1000]
                if self.journal is not None:
                    await asyncio.to_thread(self.journal.set_aside, record, f"{type(exc).__name__}: {exc}")
                await self._release_hold(record)
        return written

    async def _release_hold(self, record: UsageRecord) -> None:
        """A set-aside record is not charged until an operator re-drives it: its hold goes now
        (kept, a lease would never empty and the user's held amount would stay inflated)."""
        if self.charges.settle is None:
            return
        try:
            with deadline(self.db_timeout):
                await self.charges.settle([record])
        except Exception:  # noqa: BLE001 - an unreleased hold expires with its lease
            log.exception("could not release the hold of set-aside record %s", record.request_id)

    def restore(self, records: list[UsageRecord]) -> None:
        """Queue records replayed from the journal (already in it: not appended again)."""
        self._pending.extend(records)
        self._wake.set()

    def hurry(self, interval: float = 0.2) -> None:
        """Shutting down: flush now and then often, so a drain cut short loses no time."""
        self.interval = min(self.interval, interval)
        self._wake.set()

    async def _ping(self) -> bool:
        with deadline(self.db_timeout):
            return await self.charges.storage.ping()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - keep the loop alive; records stay queued
                log.exception("usage flush failed; %d records kept for the next attempt", self.pending)

    async def stop(self) -> None:
        """Final flush on shutdown."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()
