"""The stage the real clients play on: a loopback-only network namespace (``ip netns``) holding
``jiuliu serve --demo`` (relay, embedded database, emulator upstreams) and every client run, so
nothing a client sends can leave the machine. The test process itself stays outside and reaches
the relay only through ``ip netns exec … curl``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
VERSIONS = json.loads((Path(__file__).parent / "versions.json").read_text())
CACHE = Path(os.environ.get("JIULIU_CLIENTS_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jiuliu-clients")
PORT = 3000  # the namespace is private: the document's port is always free there
BASE = f"http://127.0.0.1:{PORT}"


def node_modules(name: str) -> Path:
    """Where scripts/clients-install put the pinned package ``name`` (a key of versions.json)."""
    return CACHE / f"{name}-{VERSIONS[name]['version']}" / "node_modules"


def client_bin(name: str) -> Path:
    """The pinned client's executable, or the package's folder for a library such as the SDK."""
    pin = VERSIONS[name]
    return node_modules(name) / (f".bin/{pin['bin']}" if pin["bin"] else pin["package"])


def node_bin_dir() -> Path:
    return client_bin("node").parent


@dataclass
class Run:
    """One finished client process."""

    argv: list[str]
    returncode: int
    output: str  # stdout and stderr, interleaved

    def describe(self) -> str:
        return f"$ {' '.join(self.argv)}\n(exit {self.returncode})\n{self.output[-4000:]}"


@dataclass
class Stage:
    netns: str
    workdir: Path
    keys: dict[str, str] = field(default_factory=dict)  # "claude" / "codex" → sk-…
    relay: asyncio.subprocess.Process | None = None
    token: str = ""
    metrics_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    _drain: asyncio.Task | None = None
    _log: Any = None

    # -- namespace -------------------------------------------------------------------------
    async def _ip(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec("ip", *args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)} failed: {out.decode(errors='replace')}")

    async def start(self) -> None:
        """Namespace with only ``lo`` up, then the demo relay inside it; keys from its banner."""
        await self._ip("netns", "add", self.netns)
        await self._ip("netns", "exec", self.netns, "ip", "link", "set", "lo", "up")
        env = {**os.environ, "JIULIU_DATA_DIR": str(self.workdir / "data"), "JIULIU_LOG_LEVEL": "warning",
               "JIULIU_METRICS_TOKEN": self.metrics_token}
        env.pop("MONGO_URL", None)
        env.pop("JIULIU_MONGO_URL", None)
        self._log = (self.workdir / "relay.log").open("wb")
        self.relay = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.netns, sys.executable, "-m", "server.cli", "serve", "--demo",
            "--port", str(PORT), cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=self._log)
        assert self.relay.stdout is not None
        banner: list[str] = []
        user: dict[str, str] = {}
        while "codex" not in self.keys:
            line = (await asyncio.wait_for(self.relay.stdout.readline(), 90)).decode()
            if not line:
                raise RuntimeError("jiuliu serve --demo exited:\n" + "".join(banner)
                                   + (self.workdir / "relay.log").read_text(errors="replace"))
            banner.append(line)
            match = re.match(r"\s+(claude|codex) key:\s+(sk-\S+)", line)
            if match:
                self.keys[match.group(1)] = match.group(2)
            login = re.match(r"\s+demo user login:\s+(\S+) / (\S+)", line)  # generated per run
            if login:
                user = {"email": login.group(1), "password": login.group(2)}
        self._drain = asyncio.ensure_future(self.relay.stdout.read())  # the relay must never block on it
        status, body = await self.api("POST", "/api/user/login", body=user)
        assert status == 200, body
        self.token = body["token"]
        # The demo's own first call is written by the next usage flush: let it land before any case
        # takes its "before" snapshot of the log.
        deadline = time.monotonic() + 20
        while not await self.log_rows():
            assert time.monotonic() < deadline, "the demo's first call never reached the user's log"
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self.relay is not None and self.relay.returncode is None:
            self.relay.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.relay.wait(), 30)
            except asyncio.TimeoutError:
                self.relay.kill()
                await self.relay.wait()
        if self._drain is not None:
            await self._drain
        if self._log is not None:
            self._log.close()
        try:
            await self._ip("netns", "del", self.netns)
        except RuntimeError:
            pass

    # -- talking to the relay from outside the namespace ----------------------------------------
    async def api(self, method: str, path: str, body: Any = None,
                  token: str | None = None) -> tuple[int, Any]:
        """One JSON call to the relay, made by curl inside the namespace."""
        argv = ["ip", "netns", "exec", self.netns, "curl", "-sS", "-X", method, "-o", "-",
                "-w", "\n%{http_code}", BASE + path]
        if token or self.token:
            argv += ["-H", f"Authorization: Bearer {token or self.token}"]
        if body is not None:
            argv += ["-H", "content-type: application/json", "--data-binary", json.dumps(body)]
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        if proc.returncode != 0:
            raise RuntimeError(f"curl {method} {path}: {err.decode(errors='replace')}")
        text, _, code = out.decode().rpartition("\n")
        try:
            return int(code), json.loads(text) if text else None
        except json.JSONDecodeError:
            return int(code), text

    async def log_rows(self) -> list[dict]:
        status, body = await self.api("GET", "/api/user/logs?limit=500")
        assert status == 200, body
        return body["data"]

    async def balance(self) -> int:
        status, body = await self.api("GET", "/api/user/me")
        assert status == 200, body
        return int(body["balance"])

    async def relayed_requests(self) -> float:
        """How many relay calls finished, from /metrics (any route, group and status)."""
        argv = ["ip", "netns", "exec", self.netns, "curl", "-sS", "--fail", BASE + "/metrics",
                "-H", f"Authorization: Bearer {self.metrics_token}"]
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0 and b"jiuliu_requests_total" in out, err.decode(errors="replace")
        return sum(float(line.rsplit(" ", 1)[1]) for line in out.decode().splitlines()
                   if line.startswith("jiuliu_requests_total{"))

    # -- running a client -------------------------------------------------------------------------
    async def run(self, argv: list[str], home: Path, env: dict[str, str], timeout: float = 150) -> Run:
        """``argv`` inside the namespace with a scratch HOME, stdin closed, Node ≥ 24.16 first on PATH."""
        work = home / "work"
        work.mkdir(parents=True, exist_ok=True)
        full_env = {"PATH": f"{node_bin_dir()}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
                    "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1", **env}
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.netns, *argv, cwd=work, env=full_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = await proc.communicate()
            return Run(argv, -9, out.decode(errors="replace") + f"\n[killed after {timeout} s]")
        return Run(argv, proc.returncode or 0, out.decode(errors="replace"))
