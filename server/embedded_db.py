"""The embedded MongoDB-wire-protocol server (PyPI ``nx-27017``, SQLite underneath).

With no ``MONGO_URL`` the relay runs it as a child process on 127.0.0.1 and a free port, with
its data file under the data directory, and stops it on exit. The data directory is 0700 and
every file in it 0600 (a umask on the child covers the files SQLite creates later). The server
has no authentication: any local user who can reach its loopback port can read and change
data, so the embedded default is for a machine the operator alone uses. The same launcher is the test
fixture. The child gets ``PR_SET_PDEATHSIG`` so it dies with the relay even on ``SIGKILL``.

Subset of MongoDB the project relies on (checked against nx-27017 0.8.1 and real MongoDB):
single-document updates with ``$inc``/``$set``/``$unset``/``$setOnInsert``/``$max``/``$push``,
conditional filters on scalar fields and on ``{"a.b": {"$exists": False}}``, ``find_one_and_update``,
unique indexes, ``insert_many(ordered=False)``, ``find`` with sort/skip/limit, ``aggregate``
with ``$match``/``$group``/``$sort``/``$limit``. Not used: multi-document transactions (unsafe
on nx-27017, absent on standalone MongoDB), update pipelines and ``$not`` (unimplemented), and
``$ne``/``$nin`` against array fields inside updates (nx-27017 matches them wrongly).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Collection

from pymongo import AsyncMongoClient

from server.secret_box import ensure_private_dir

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not start or stopped unexpectedly."""


def free_port(host: str = "127.0.0.1", avoid: Collection[int] = ()) -> int:
    """A TCP port that is free right now on ``host`` and not in ``avoid`` (a port the caller
    is about to bind itself: the kernel may hand the same free port out twice)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            return port


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the relay dies, and give it a
    0077 umask so every file SQLite creates later (the database, ``-wal``, ``-shm``) is 0600."""
    os.umask(0o077)
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # Ctrl-C in a terminal reaches the whole process group; the relay stops the child itself,
    # in order, after draining, so the child must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class EmbeddedMongo:
    """A child ``nx-27017`` process serving one SQLite file on loopback."""

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 0,
                 file_name: str = "jiuliu.db", avoid: Collection[int] = ()) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.avoid = tuple(avoid)  # the relay's own port, bound after the database starts
        self.db_file = self.data_dir / file_name
        self.log_file = self.data_dir / "embedded-db.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        """Connection URL for pymongo."""
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def spawn(self) -> None:
        """Start the child process (does not wait for it to answer)."""
        try:
            ensure_private_dir(self.data_dir)
            self._tighten_existing_files()
        except OSError as exc:
            raise EmbeddedDatabaseError(f"data_dir {self.data_dir} cannot be created: {exc}") from exc
        if not self.port:
            self.port = free_port(self.host, self.avoid)
        cmd = [sys.executable, "-c", "from nx_27017.nx_27017 import main; main()", "--db", str(self.db_file),
               "--host", self.host, "--port", str(self.port),
               "--pid-file", str(self.data_dir / f"embedded-db.{self.port}.pid"),
               "--log-file", str(self.log_file)]
        out = os.fdopen(os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
        try:
            # A session of its own: a terminal's Ctrl-C (SIGINT to the whole foreground group)
            # reaches only the relay, which flushes usage and then stops the database in order;
            # PR_SET_PDEATHSIG still ends it if the relay dies.
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                                          start_new_session=True)
        finally:
            out.close()

    def _tighten_existing_files(self) -> None:
        """Files an older version left world-readable (0644): the database, its WAL and shared
        memory, the log and pid files become 0600."""
        for path in self.data_dir.iterdir():
            ours = path.name.startswith(self.db_file.name) or path.name.startswith("embedded-db")
            if path.is_file() and ours:
                if stat.S_IMODE(path.stat().st_mode) & 0o077:
                    os.chmod(path, 0o600)

    async def start(self, timeout: float = 30.0) -> None:
        """Spawn the child and wait until ``ping`` answers, or raise with the log's tail."""
        self.spawn()
        deadline = time.monotonic() + timeout
        client: AsyncMongoClient = AsyncMongoClient(self.url, serverSelectionTimeoutMS=250,
                                                    connectTimeoutMS=250)
        try:
            while True:
                if not self.running():
                    code = self._proc.returncode if self._proc is not None else None
                    raise EmbeddedDatabaseError(
                        f"embedded database exited with code {code} during start; "
                        f"log {self.log_file}:\n{self.log_tail()}")
                try:
                    await client.admin.command("ping")
                    log.info("embedded database ready on %s:%s (file %s)", self.host, self.port, self.db_file)
                    return
                except Exception:  # noqa: BLE001 - any failure means "not ready yet"
                    if time.monotonic() > deadline:
                        self.stop()
                        raise EmbeddedDatabaseError(
                            f"embedded database did not answer ping within {timeout:.0f}s; "
                            f"log {self.log_file}:\n{self.log_tail()}") from None
                    await asyncio.sleep(0.05)
        finally:
            await client.close()

    async def wait_exit(self, poll: float = 0.5) -> int:
        """Return the child's exit code once it exits (used to notice a crash)."""
        while self.running():
            await asyncio.sleep(poll)
        if self._proc is not None:
            self.returncode = self._proc.returncode
        return self.returncode or 0

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the child and wait for it; kill it if it does not go."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            self.returncode = proc.returncode if proc else self.returncode
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        self.returncode = proc.returncode
        log.info("embedded database stopped")

    def log_tail(self, lines: int = 20) -> str:
        """Last lines of the child's log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
