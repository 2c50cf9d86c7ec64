"""The serve pipeline as a chain of small steps with paired teardown:
embedded database → storage → dependencies → app and listener → (demo) → wait → close in
reverse order. A failed start still tears down what it had started."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Awaitable, Callable

import tornado.httpserver
import tornado.netutil

from server.app import make_app
from server.billing.journal import UsageJournal
from server.deps import Deps
from server.embedded_db import EmbeddedMongo
from server.secret_box import SecretBox
from server.settings import Settings
from server.storage.db import Storage
from server.storage.timeouts import client_options, deadline
from server.web.nodelay import NoDelayHTTPServer
from server.wiring import build_deps

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_DATABASE_DIED = 3


class Runtime:
    """One relay process: what it started, so that it can stop it in reverse order."""

    def __init__(self, settings: Settings, sockets: list | None = None, worker: int = 0) -> None:
        self.settings = settings
        self.worker = worker  # pre-fork index: names this process's usage journal
        self._sockets = sockets  # pre-bound by a pre-fork parent, else bound here
        self.embedded: EmbeddedMongo | None = None
        self.storage: Storage | None = None
        self.deps: Deps | None = None
        self.server: tornado.httpserver.HTTPServer | None = None
        self.port: int = settings.port
        self._teardown: list[Callable[[], Awaitable[None] | None]] = []
        self._stop = asyncio.Event()

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.settings.host in ("0.0.0.0", "") else self.settings.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Start everything; on failure, undo what was done and re-raise."""
        try:
            await self._start_database()
            await self._start_services()
            self._start_listener()
            self._start_jobs()
        except BaseException:
            await self.close()
            raise

    async def _start_database(self) -> None:
        url = self.settings.mongo_url
        if not url:
            self.embedded = EmbeddedMongo(self.settings.data_path, avoid=(self.settings.port,))
            await self.embedded.start(self.settings.embedded_db_start_timeout)
            self._teardown.append(self.embedded.stop)
            url = self.embedded.url
        self.storage = Storage.connect(url, self.settings.db_name, **client_options(self.settings))
        self.storage.box = SecretBox.from_settings(self.settings.secrets_key, self.settings.data_path)
        self._teardown.append(self.storage.close)
        with deadline(self.settings.db_timeout_jobs):  # index builds over a large log take a while
            await self.storage.ensure_indexes()

    async def _start_services(self) -> None:
        assert self.storage is not None
        self.deps = await build_deps(self.settings, self.storage)
        await self._replay_journal()
        self._teardown.append(self._run_shutdown_hooks)

    async def _replay_journal(self) -> None:
        """Open this worker's usage journal and bill what a killed predecessor answered but never
        wrote (idempotent by request id), before serving; closed after the final flush."""
        assert self.deps is not None
        journal = await asyncio.to_thread(UsageJournal.open, self.settings.data_path, self.worker)
        self._teardown.append(journal.close)
        recorder = self.deps.recorder
        recorder.journal = journal
        replayed = await asyncio.to_thread(journal.read)
        orphans: list = []
        if self.worker == 0:  # journals no worker owns today (fewer workers, a stopped second relay)
            for path in await asyncio.to_thread(journal.orphans, self.settings.workers):
                records = await asyncio.to_thread(journal.read_orphan, path)
                if records is not None:
                    orphans.append(path)
                    replayed += records
        if not replayed:
            return
        log.warning("usage journal %s: replaying %d usage records of a previous run (%d other files)",
                    journal.path, len(replayed), len(orphans))
        recorder.restore(replayed)
        try:
            await recorder.flush()
        except Exception:  # noqa: BLE001 - kept queued (and in the journal): the recorder retries
            log.exception("usage journal: replay could not be written yet; %d records kept", recorder.pending)
            return
        for path in orphans:  # written: the orphans' records are in the database now
            await asyncio.to_thread(path.unlink, True)

    def _start_listener(self) -> None:
        assert self.deps is not None
        app = make_app(self.settings, self.deps)
        self.server = NoDelayHTTPServer(  # TCP_NODELAY per connection (server.web.nodelay)
            app, max_body_size=self.settings.max_body_bytes, idle_connection_timeout=75)
        sockets = self._sockets or tornado.netutil.bind_sockets(self.settings.port, self.settings.host)
        self.port = sockets[0].getsockname()[1]
        self.server.add_sockets(sockets)
        self._teardown.append(self._drain)

    def _start_jobs(self) -> None:
        """Background jobs begin once the process serves (after any fork); stopped by a hook."""
        if self.deps is not None:
            self.deps.scheduler.start()

    def request_stop(self) -> None:
        """Ask the process to shut down gracefully (signal handlers call this)."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)

    async def wait(self) -> int:
        """Run until asked to stop, or until the embedded database dies (exit non-zero)."""
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._stop.wait())]
        if self.embedded is not None:
            waiters.append(asyncio.ensure_future(self.embedded.wait_exit()))
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if self.embedded is not None and waiters[-1] in done:
            log.error("the embedded database exited unexpectedly (code %s); stopping the relay "
                      "rather than serving errors. Log: %s", self.embedded.returncode,
                      self.embedded.log_file)
            return EXIT_DATABASE_DIED
        return EXIT_OK

    async def _drain(self) -> None:
        """Stop accepting, then let in-flight requests finish up to the grace period."""
        if self.server is None:
            return
        self.server.stop()
        if self.deps is not None:
            self.deps.recorder.hurry()  # flush while draining, not only after it
        deadline = asyncio.get_running_loop().time() + self.settings.shutdown_grace
        while self.deps and self.deps.inflight.count > 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self.deps and self.deps.inflight.count > 0:
            log.warning("shutdown: %d requests still in flight after %.0fs; closing them",
                        self.deps.inflight.count, self.settings.shutdown_grace)
        await self.server.close_all_connections()

    async def _run_shutdown_hooks(self) -> None:
        assert self.deps is not None
        for hook in reversed(self.deps.shutdown_hooks):
            try:
                result = hook()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - one failing hook must not skip the others
                log.exception("shutdown hook failed")

    async def close(self) -> None:
        """Undo start() in reverse order; safe to call twice."""
        while self._teardown:
            step = self._teardown.pop()
            try:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001
                log.exception("shutdown step failed")
