"""``jiuliu serve --workers N``: a small pre-fork supervisor.

The parent binds the listening sockets and, without ``MONGO_URL``, starts the embedded
database; then it forks N workers that share the sockets. Each worker builds its own database
client, upstream client, caches and scheduler after the fork (nothing long-lived crosses it).
SIGTERM or SIGINT to the parent is forwarded to the workers, which drain and exit; the parent
then stops the embedded database. A worker that dies unexpectedly makes the parent stop the
others and exit non-zero, so a process manager restarts the whole relay cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import tornado.netutil

from server.embedded_db import EmbeddedMongo
from server.settings import Settings

log = logging.getLogger("jiuliu")


def serve_workers(settings: Settings, run_worker) -> int:
    """Fork ``settings.workers`` processes running ``run_worker(settings, sockets)``."""
    embedded: EmbeddedMongo | None = None
    if not settings.mongo_url:
        embedded = EmbeddedMongo(settings.data_path, avoid=(settings.port,))
        asyncio.run(embedded.start(settings.embedded_db_start_timeout))
        settings = settings.replace(mongo_url=embedded.url)
    sockets = tornado.netutil.bind_sockets(settings.port, settings.host)
    port = sockets[0].getsockname()[1]
    print(f"Jiuliu Relay: {settings.workers} workers listening on http://{settings.host}:{port}", flush=True)
    children: set[int] = set()
    for index in range(settings.workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(settings, sockets, index)
            finally:
                os._exit(code)
        children.add(pid)
    stopping = False

    def forward(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for child in list(children):
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    exit_code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if not stopping:
            log.error("worker %d exited with %s; stopping the others", pid, code)
            exit_code = code or 1
            forward(signal.SIGTERM, None)
    for sock in sockets:
        sock.close()
    if embedded is not None:
        embedded.stop()
    sys.stdout.flush()
    return exit_code
