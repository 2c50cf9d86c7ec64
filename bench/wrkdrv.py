"""Drive one bounded load with Debian's wrk and bench/post.lua; parse its JSON line."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

LUA = Path(__file__).resolve().parent / "post.lua"


def wrk(url: str, body: Path, header: str, key: str, conc: int, seconds: int, sessions: int = 0) -> dict:
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_AUTH_HEADER": header, "BENCH_KEY": key}
    if sessions:
        env["BENCH_SESSIONS"] = str(sessions)
    threads = 1 if conc < 4 else 2
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conc}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(LUA), url], env=env, capture_output=True, text=True, timeout=seconds + 30)
    match = re.search(r"JSON(\{.*\})", out.stdout)
    if not match:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    data = json.loads(match.group(1))
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data
