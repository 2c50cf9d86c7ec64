"""Child processes of the benchmark: start, wait for the port, stop; CPU and RSS from /proc."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


def raise_nofile(want: int) -> int:
    """Raise RLIMIT_NOFILE (children inherit it); as root the hard limit can go up too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in ((want, max(want, hard)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, target)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def tree(pid: int) -> list[int]:
    """The process and its live descendants (nginx workers, uvicorn children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo.extend(int(k) for k in kids)
        except OSError:
            pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime (+ reaped children's) over the process tree."""
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / _TICKS
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    port: int
    log: Path
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> float:
        return rss_mb(self.pid)

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def start(name: str, argv: list[str], port: int, logdir: Path, env: dict | None = None,
          cwd: Path = ROOT) -> Proc:
    log = logdir / f"{name}.log"
    fh = open(log, "wb")
    popen = subprocess.Popen(argv, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    fh.close()
    return Proc(name, popen, port, log)


def wait_port(proc: Proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", proc.port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name}: port {proc.port} did not open in {timeout:.0f} s:\n{proc.tail()}")


def stop(proc: Proc) -> None:
    """SIGTERM its own process group (it was started in a new session), then SIGKILL."""
    if proc.popen.poll() is not None:
        return
    try:
        os.killpg(proc.pid, 15)
    except OSError:
        proc.popen.terminate()
    try:
        proc.popen.wait(10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            proc.popen.kill()
        proc.popen.wait(5)


def start_emulator(logdir: Path) -> tuple[Proc, int]:
    """The upstream emulator as a process of its own on a free port, answering."""
    port = free_port()
    proc = start("emulator", [sys.executable, "-m", "server.cli", "emulator", "--port", str(port)], port, logdir)
    wait_port(proc)
    return proc, port


def relay_env(db_url: str, db_name: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a benchmarked relay runs with: the shared database, quiet logs, cheap
    bcrypt, plus ``extra`` (JIULIU_* settings)."""
    return {**os.environ, "MONGO_URL": db_url, "JIULIU_DB_NAME": db_name, "JIULIU_LOG_LEVEL": "warning",
            "JIULIU_DATA_DIR": str(data_dir), "JIULIU_BCRYPT_ROUNDS": "4", **extra}

