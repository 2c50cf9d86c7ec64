"""``jiuliu serve``: run one relay process until SIGINT/SIGTERM, then stop in order."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from server.embedded_db import EmbeddedDatabaseError
from server.runtime import Runtime
from server.settings import Settings
from server.storage.timeouts import UNAVAILABLE

log = logging.getLogger("jiuliu")


def serve(settings: Settings) -> int:
    """Blocking entry point; returns the process exit code."""
    if settings.workers > 1:
        if settings.demo:
            log.warning("--demo runs one process: ignoring workers=%d", settings.workers)
        else:
            from server.prefork import serve_workers

            return serve_workers(settings, _run_worker)
    try:
        return run_loop(settings, _serve(settings))
    except EmbeddedDatabaseError as exc:
        print(f"jiuliu: {exc}", file=sys.stderr)
        return 3
    except UNAVAILABLE as exc:
        print(f"jiuliu: the database did not answer at start-up: {exc}. Check MONGO_URL and that the "
              "database runs; for long index builds raise db_timeout_jobs", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"jiuliu: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 2


def _run_worker(settings: Settings, sockets: list, worker: int = 0) -> int:
    """One pre-forked worker: its own loop, clients, caches and usage journal over the shared sockets."""
    return run_loop(settings, _serve(settings, sockets, quiet=True, worker=worker))


def run_loop(settings: Settings, main: Any) -> int:
    """Run ``main`` on the configured event loop: uvloop (libuv; Tornado runs on any asyncio
    loop) unless ``event_loop = "asyncio"`` or uvloop is not installed."""
    factory = None
    if settings.event_loop == "uvloop":
        try:
            import uvloop

            factory = uvloop.new_event_loop
        except ImportError:
            log.warning("event_loop = uvloop but uvloop is not installed: using asyncio's loop")
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


async def _serve(settings: Settings, sockets: list | None = None, quiet: bool = False,
                 worker: int = 0) -> int:
    runtime = Runtime(settings, sockets, worker=worker)
    runtime.install_signal_handlers()
    try:
        await runtime.start()
        banner = [f"Jiuliu Relay listening on {runtime.base_url}",
                  f"  dashboard: {runtime.base_url}/",
                  f"  health:    {runtime.base_url}/healthz",
                  "  database:  " + (f"embedded ({runtime.embedded.db_file})" if runtime.embedded
                                     else "MONGO_URL")]
        if settings.demo:
            from server.demo import start_demo

            banner += await start_demo(runtime)
        if not quiet:
            print("\n".join(banner), flush=True)
        code = await runtime.wait()
        log.info("shutting down")
        return code
    finally:
        await runtime.close()
