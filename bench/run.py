"""Relay vs direct-to-emulator: throughput, added latency and CPU per request, on 127.0.0.1.

One command (``.venv/bin/python bench/run.py [--quick]``) starts the embedded database, the
emulator and the relay as separate processes, seeds a user, keys and upstream accounts, drives
each scenario with wrk (Debian's ``wrk``; Lua script ``bench/post.lua``) against the emulator
directly and through the relay, and writes ``bench/results/<date>.json`` and ``.md``. Every load
is bounded in time; nothing leaves the machine."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.embedded_db import EmbeddedMongo, free_port  # noqa: E402
from server.storage.db import Storage  # noqa: E402
from server.storage.prices import PriceStore  # noqa: E402

SMALL = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "say hi"}]}
RESPONSES = {"model": "gpt-5.4", "input": "say hi", "stream": True}
CLAUDE_CODE_FIXTURE = ROOT.parent / "shared" / "fixtures" / "clients" / "claude-code-2.1.332-turn-bearer.json"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def seed(url: str, db_name: str, emu_url: str) -> dict[str, str]:
    """A user with a large balance, one key per group, and emulator accounts as upstreams."""
    import datetime as _dt

    storage = Storage.connect(url, db_name)
    await storage.ensure_indexes()
    await PriceStore(storage).seed_if_empty()
    now = _dt.datetime.now(_dt.timezone.utc)
    await storage.users.insert_one({"_id": "usr_bench", "username": "bench", "email": "bench@example.test",
                                    "password_hash": "", "role": "user", "status": "active",
                                    "balance": 10**14, "token_version": 0, "created_at": now, "ledger_marks": {}})
    for name, protocol in (("claude", "anthropic"), ("codex", "openai")):
        await storage.groups.update_one({"_id": name}, {"$setOnInsert": {
            "name": name, "protocol": protocol, "multiplier_ppm": 1_000_000, "description": "", "created_at": now}},
            upsert=True)
    keys = {}
    for group in ("claude", "codex"):
        secret = f"sk-bench-{group}-" + "x" * 32
        keys[group] = secret
        await storage.api_keys.insert_one({
            "_id": f"key_bench_{group}", "user_id": "usr_bench", "name": group, "group": group,
            "key_hash": hashlib.sha256(secret.encode()).hexdigest(), "prefix": secret[:8],
            "rate_limit": 0, "max_concurrency": 0, "expires_at": None, "models": [], "spend_quota": 0,
            "status": "active", "created_at": now, "last_used_at": None, "totals": {}})
    for i, (name, protocol, group) in enumerate([("emu-anthropic-1", "anthropic", "claude"),
                                                 ("emu-anthropic-2", "anthropic", "claude"),
                                                 ("emu-openai-1", "openai", "codex"),
                                                 ("emu-openai-2", "openai", "codex")]):
        await storage.upstreams.insert_one({
            "_id": f"ups_bench_{i}", "name": name, "groups": [group], "protocol": protocol,
            "base_url": emu_url, "api_key": name, "weight": 1, "priority": 0, "enabled": True,
            "models": [], "model_map": {}, "max_concurrency": 0, "notes": "",
            "state": {"status": "healthy", "reason": "", "cooldown_until": 0.0, "since": time.time()},
            "created_at": now, "updated_at": now})
    await storage.close()
    return keys


def wrk(url: str, body: Path, header: str, key: str, conc: int, seconds: int) -> dict:
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_AUTH_HEADER": header, "BENCH_KEY": key}
    threads = 1 if conc < 4 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conc}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(ROOT / "bench" / "post.lua"), url],
                         env=env, capture_output=True, text=True, timeout=seconds + 30)
    match = re.search(r"JSON(\{.*\})", out.stdout)
    if not match:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    data = json.loads(match.group(1))
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs, concurrency 1 and 16 only")
    parser.add_argument("--seconds", type=int, default=None)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench needs Debian's wrk: apt-get install wrk", file=sys.stderr)
        return 2
    seconds = args.seconds or (3 if args.quick else 8)
    concurrency = [1, 16] if args.quick else [1, 16, 64]
    tmp = Path(tempfile.mkdtemp(prefix="jiuliu-bench-"))
    procs: list[subprocess.Popen] = []
    db = EmbeddedMongo(tmp / "db")
    try:
        asyncio.run(db.start())
        emu_port, relay_port = free_port(), free_port()
        py = sys.executable
        emu = subprocess.Popen([py, "-m", "server.cli", "emulator", "--port", str(emu_port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(emu)
        keys = asyncio.run(seed(db.url, "bench", f"http://127.0.0.1:{emu_port}"))
        env = {**os.environ, "MONGO_URL": db.url, "JIULIU_DB_NAME": "bench", "JIULIU_LOG_LEVEL": "warning",
               "JIULIU_DATA_DIR": str(tmp)}
        relay = subprocess.Popen([py, "-m", "server.cli", "serve", "--port", str(relay_port)], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(relay)
        wait_port(emu_port, emu)
        wait_port(relay_port, relay)
        bodies = {"small": SMALL, "small-stream": {**SMALL, "stream": True}, "responses-stream": RESPONSES}
        if CLAUDE_CODE_FIXTURE.exists():
            cc = json.loads(CLAUDE_CODE_FIXTURE.read_text())["body"]
            bodies["claude-code-50KB-stream"] = {**cc, "model": "claude-sonnet-4-5", "max_tokens": 64}
        scenarios = []
        for name, body in bodies.items():
            path = tmp / f"{name}.json"
            path.write_text(json.dumps(body))
            openai = name.startswith("responses")
            scenarios.append((name, path, "/v1/responses" if openai else "/v1/messages",
                              ("authorization", f"Bearer {keys['codex']}") if openai else ("x-api-key", keys["claude"]),
                              ("authorization", "Bearer emu-openai-1") if openai else ("x-api-key", "emu-anthropic-1")))
        rows = []
        for name, body_path, route, relay_auth, direct_auth in scenarios:
            for conc in concurrency:
                row = {"scenario": name, "concurrency": conc}
                for label, port, auth, pids in (("direct", emu_port, direct_auth, [emu.pid]),
                                                ("relay", relay_port, relay_auth, [relay.pid, emu.pid])):
                    before = {pid: cpu_seconds(pid) for pid in pids}
                    result = wrk(f"http://127.0.0.1:{port}{route}", body_path, auth[0], auth[1], conc, seconds)
                    cpu = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
                    row[label] = {"rps": round(result["rps"], 1), "p50_ms": result["p50_us"] / 1000,
                                  "p99_ms": result["p99_us"] / 1000, "errors": result["socket_errors"] + result["non2xx"],
                                  "cpu_ms_per_req": {("relay" if pid == relay.pid else "emulator"):
                                                     round(1000 * c / max(1, result["requests"]), 3)
                                                     for pid, c in cpu.items()}}
                row["relay_over_direct_rps"] = round(row["relay"]["rps"] / max(1e-9, row["direct"]["rps"]), 3)
                row["added_p50_ms"] = round(row["relay"]["p50_ms"] - row["direct"]["p50_ms"], 3)
                row["added_p99_ms"] = round(row["relay"]["p99_ms"] - row["direct"]["p99_ms"], 3)
                rows.append(row)
                print(f"{name:28s} c={conc:<3d} direct {row['direct']['rps']:8.1f}/s  relay {row['relay']['rps']:8.1f}/s"
                      f"  ratio {row['relay_over_direct_rps']:.3f}  +p50 {row['added_p50_ms']:.2f} ms"
                      f"  +p99 {row['added_p99_ms']:.2f} ms  errors {row['relay']['errors']}", flush=True)
        result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                              "python": platform.python_version()},
                  "seconds_per_run": seconds, "relay_rss_mb": round(rss_mb(relay.pid), 1), "rows": rows}
        write_results(result)
        return 0
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        db.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def write_results(result: dict) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = result["date"][:10]
    (out / f"{stamp}.json").write_text(json.dumps(result, indent=2))
    lines = [f"Relay vs emulator, {result['date']} ({result['machine']['cpus']} CPUs, Python "
             f"{result['machine']['python']}, {result['seconds_per_run']} s per run, wrk on 127.0.0.1)", "",
             "| scenario | conc | direct req/s | relay req/s | relay/direct | +p50 ms | +p99 ms | relay CPU ms/req |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(f"| {row['scenario']} | {row['concurrency']} | {row['direct']['rps']:.0f} | "
                     f"{row['relay']['rps']:.0f} | {row['relay_over_direct_rps']:.2f} | {row['added_p50_ms']:.2f} | "
                     f"{row['added_p99_ms']:.2f} | {row['relay']['cpu_ms_per_req'].get('relay', 0):.3f} |")
    lines.append("")
    lines.append(f"Relay RSS after the run: {result['relay_rss_mb']} MB")
    (out / f"{stamp}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
