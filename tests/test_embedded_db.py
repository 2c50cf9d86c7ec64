"""The embedded database launcher: start, stop, crash detection and start-up failures."""

from __future__ import annotations

import os
import signal

import pytest
from pymongo import AsyncMongoClient

from server.embedded_db import EmbeddedDatabaseError, EmbeddedMongo, free_port


async def test_start_ping_stop(tmp_path):
    db = EmbeddedMongo(tmp_path / "d")
    await db.start(timeout=30)
    assert db.running() and (tmp_path / "d").is_dir()
    client = AsyncMongoClient(db.url)
    await client.jiuliu.things.insert_one({"_id": 1})
    assert await client.jiuliu.things.count_documents({}) == 1
    await client.close()
    assert db.db_file.exists() and db.db_file.name == "jiuliu.db"
    pid = db.pid
    db.stop()
    assert not db.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_data_survives_restart(tmp_path):
    db = EmbeddedMongo(tmp_path)
    await db.start()
    client = AsyncMongoClient(db.url)
    await client.jiuliu.kept.insert_one({"_id": "x", "v": 42})
    await client.close()
    db.stop()
    db2 = EmbeddedMongo(tmp_path)
    await db2.start()
    client = AsyncMongoClient(db2.url)
    assert (await client.jiuliu.kept.find_one({"_id": "x"}))["v"] == 42
    await client.close()
    db2.stop()


async def test_crash_is_noticed(tmp_path):
    db = EmbeddedMongo(tmp_path)
    await db.start()
    os.kill(db.pid, signal.SIGKILL)
    code = await db.wait_exit(poll=0.02)
    assert code == -signal.SIGKILL and not db.running()


async def test_start_failure_reports_the_log(tmp_path):
    # A data file that is not a database: the child exits and the error quotes its log.
    (tmp_path / "jiuliu.db").write_bytes(b"not a database " * 20)
    db = EmbeddedMongo(tmp_path)
    with pytest.raises(EmbeddedDatabaseError) as info:
        await db.start(timeout=20)
    assert "exited with code 1 during start" in str(info.value)
    assert "file is not a database" in str(info.value)
    assert not db.running()


async def test_start_timeout_is_bounded(tmp_path, monkeypatch):
    db = EmbeddedMongo(tmp_path)
    # A child that never answers ping: point the launcher at a sleeping interpreter.
    monkeypatch.setattr(db, "spawn", lambda: _spawn_sleeper(db))
    with pytest.raises(EmbeddedDatabaseError, match="did not answer ping within 1s"):
        await db.start(timeout=1)
    assert not db.running()


def _spawn_sleeper(db: EmbeddedMongo) -> None:
    import subprocess
    import sys

    db.port = 1  # nothing listens there
    db._proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(EmbeddedDatabaseError, match="cannot be created"):
        EmbeddedMongo(blocker / "sub").spawn()


def test_free_port_avoids_the_relay_port(monkeypatch):
    """The relay binds its own port after the database starts: the kernel may hand that same
    free port to the database first (seen as 'Address already in use' at start-up)."""
    handed = iter([4100, 4100, 4101])

    class FakeSocket:
        def __init__(self, *args):
            self.port = next(handed)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def bind(self, address):
            pass

        def getsockname(self):
            return ("127.0.0.1", self.port)

    monkeypatch.setattr("server.embedded_db.socket.socket", FakeSocket)
    assert free_port(avoid=(4100,)) == 4101
