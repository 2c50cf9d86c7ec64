"""``jiuliu serve`` as a real process: starts with the embedded database, answers /healthz,
leaves no child behind on Ctrl-C or SIGTERM, and exits non-zero if its database dies."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import pytest

from server.embedded_db import free_port


async def _start(tmp_path, *extra: str):
    port = free_port()
    env = {**os.environ, "JIULIU_DATA_DIR": str(tmp_path), "JIULIU_LOG_LEVEL": "info"}
    env.pop("MONGO_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "serve", "--port", str(port), *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    banner = []
    while True:  # the banner is printed once everything is up
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, (await proc.stderr.read()).decode()
        banner.append(line.decode())
        if "health:" in line.decode():
            break
    return proc, port, "".join(banner)


def _embedded_pid(tmp_path) -> int:
    pid_files = list(tmp_path.glob("embedded-db.*.pid"))
    assert len(pid_files) == 1
    return int(pid_files[0].read_text().strip())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_serve_health_and_clean_stop(tmp_path, sig):
    proc, port, banner = await _start(tmp_path)
    assert f"http://127.0.0.1:{port}" in banner
    child = _embedded_pid(tmp_path)
    async with httpx.AsyncClient() as http:
        r = await http.get(f"http://127.0.0.1:{port}/healthz")
    assert r.status_code == 200 and r.json()["database"] is True
    proc.send_signal(sig)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert _gone(child)
    assert (tmp_path / "jiuliu.db").exists()


async def test_ctrl_c_to_the_whole_group_bills_the_last_call(tmp_path):
    """A terminal's Ctrl-C signals the whole foreground process group: the embedded database must
    outlive the relay's final usage flush, or the last calls' charges are lost."""
    port = free_port()
    env = {**os.environ, "JIULIU_DATA_DIR": str(tmp_path), "JIULIU_LOG_LEVEL": "info"}
    env.pop("MONGO_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "serve", "--demo", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
    key = ""
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, (await proc.stderr.read()).decode()
        if "claude key:" in line:
            key = line.split("claude key:")[1].strip()
        if line.startswith("Codex CLI"):
            break
    body = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "last"}]}
    async with httpx.AsyncClient() as http:
        r = await http.post(f"http://127.0.0.1:{port}/v1/messages", json=body,
                            headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
    assert r.status_code == 200
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert "usage flush failed" not in log and "shutdown hook failed" not in log, log


async def test_database_death_stops_the_relay(tmp_path):
    proc, _port, _ = await _start(tmp_path)
    os.kill(_embedded_pid(tmp_path), signal.SIGKILL)
    assert await asyncio.wait_for(proc.wait(), 30) == 3
    err = (await proc.stderr.read()).decode()
    assert "embedded database exited unexpectedly" in err


async def test_bad_setting_exits_with_a_clear_message(tmp_path):
    env = {**os.environ, "JIULIU_PORT": "99999"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert b"configuration error: port: 99999 is not a TCP port" in err


async def test_prefork_workers_share_the_port_and_stop_cleanly(tmp_path):
    port = free_port()
    env = {**os.environ, "JIULIU_DATA_DIR": str(tmp_path)}
    env.pop("MONGO_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert b"2 workers listening" in line
    child = _embedded_pid(tmp_path)
    async with httpx.AsyncClient(timeout=30) as http:  # queued in the backlog until a worker accepts
        for _ in range(5):
            r = await http.get(f"http://127.0.0.1:{port}/healthz")
            assert r.status_code == 200 and r.json()["database"] is True
    pgrep = await asyncio.create_subprocess_exec("pgrep", "-P", str(proc.pid), stdout=asyncio.subprocess.PIPE)
    children = [int(p) for p in (await pgrep.communicate())[0].split()]
    assert len(children) == 3 and child in children  # two workers and the embedded database
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert _gone(child)
    assert all(_gone(pid) for pid in children)
