"""The scenarios: throughput matrix (wrk), time to first token, many open streams, log page query."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench import procs
from bench.seeding import FAST, USER_EMAIL, USER_PASSWORD, http_json, seed_usage, set_knobs
from bench.streams import hold_streams, ttft_run
from bench.wrkdrv import wrk


@dataclass
class Path_:
    """One way to reach the emulator: its port, the process in the middle (None: direct)."""
    label: str
    port: int
    proxy: procs.Proc | None
    auth: dict[str, tuple[str, str]]  # protocol -> (header, value)
    protocols: tuple[str, ...] = ("anthropic", "openai")


@dataclass
class Ctx:
    tmp: Path
    emu: procs.Proc
    relay: procs.Proc
    db_url: str
    db_name: str
    db_pid: int | None = None  # the embedded database: the relay's writes cost CPU there too
    paths: list[Path_] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    route: str
    protocol: str
    body: dict


def throughput(ctx: Ctx, scenarios: list[Scenario], concurrency: list[int], seconds: int) -> list[dict]:
    rows = []
    for sc in scenarios:
        body_path = ctx.tmp / f"{sc.name}.json"
        body_path.write_text(json.dumps(sc.body))
        for conc in concurrency:
            row = {"scenario": sc.name, "route": sc.route, "concurrency": conc, "paths": {}}
            for path in ctx.paths:
                if sc.protocol not in path.protocols:
                    continue
                measured = [ctx.emu] + ([path.proxy] if path.proxy else [])
                before = {p.name: p.cpu() for p in measured}
                db_before = procs.cpu_seconds(ctx.db_pid) if ctx.db_pid and path.label.startswith("relay") else None
                t0 = time.perf_counter()
                try:
                    res = wrk(f"http://127.0.0.1:{path.port}{sc.route}", body_path, *path.auth[sc.protocol],
                              conc, seconds)
                except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                    row["paths"][path.label] = {"error": repr(exc)[:300]}
                    continue
                wall = time.perf_counter() - t0
                n = max(1, res["requests"])
                cpu = {p.name: p.cpu() - before[p.name] for p in measured}
                if db_before is not None:
                    cpu["db"] = procs.cpu_seconds(ctx.db_pid) - db_before
                row["paths"][path.label] = {
                    "rps": round(res["rps"], 1), "requests": res["requests"],
                    "p50_ms": res["p50_us"] / 1000, "p99_ms": res["p99_us"] / 1000,
                    "errors": res["socket_errors"] + res["non2xx"],
                    "cpu_ms_per_req": {name: round(1000 * c / n, 3) for name, c in cpu.items()},
                    "emulator_cpu_util": round(cpu["emulator"] / wall, 2),
                    "proxy_rss_mb": path.proxy.rss() if path.proxy else None}
            add_ratios(row)
            rows.append(row)
            print(summary_line(row), flush=True)
    return rows


def workers(ctx: Ctx, start_relay, scenarios: list[Scenario], concurrency: list[int], seconds: int) -> dict:
    """The relay with one process vs ``--workers 2`` (pre-fork), same scenarios and loads."""
    multi = start_relay(2)
    try:
        paths = [p for p in ctx.paths if p.label == "relay"]
        paths.append(Path_("relay-w2", multi.port, multi, paths[0].auth))
        rows = throughput(Ctx(ctx.tmp, ctx.emu, ctx.relay, ctx.db_url, ctx.db_name, ctx.db_pid, paths),
                          scenarios, concurrency, seconds)
    finally:
        procs.stop(multi)
    for row in rows:
        one, two = row["paths"].get("relay", {}), row["paths"].get("relay-w2", {})
        if one.get("rps") and two.get("rps"):
            row["ratios"]["w2_over_w1_rps"] = round(two["rps"] / one["rps"], 3)
    return {"rows": rows}


def usage_pending(port: int) -> int | None:
    """The relay's unwritten usage records (``jiuliu_usage_pending`` on /metrics)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("jiuliu_usage_pending "):
                    return int(float(line.split()[1]))
    except OSError:
        return None
    return None


def soak(ctx: Ctx, key: str, bodies: list[tuple[str, dict]], minutes: float, segment: int = 30) -> dict:
    """Steady load for ``minutes`` (wrk at c=16, segments of ``segment`` s alternating the bodies,
    requests spread over 1,000 sessions): relay RSS after each segment. The first segment is
    warm-up; the verdict compares the last segment's RSS with the second's. Also the *billed*
    rate (usage rows written, counted in the database) next to the answered rate, and the
    database writes per billed request (the relay's command listener, bench/counted_serve.py)."""
    from bench.counted_serve import read_counts

    files = []
    for name, body in bodies:
        path = ctx.tmp / f"soak-{name}.json"
        path.write_text(json.dumps(body))
        files.append((name, path))
    counts_path = ctx.tmp / "db-counts.json"
    samples, t0 = [], time.perf_counter()
    rows0 = rows = usage_rows(ctx)
    writes0 = _writes(read_counts(counts_path))
    answered = 0
    i = 0
    while time.perf_counter() - t0 < minutes * 60 or len(samples) < 3:
        name, path = files[i % len(files)]
        cpu0 = ctx.relay.cpu()
        db0 = procs.cpu_seconds(ctx.db_pid) if ctx.db_pid else None
        s0 = time.perf_counter()
        res = wrk(f"http://127.0.0.1:{ctx.relay.port}/v1/messages", path, "x-api-key", key, 16, segment,
                  sessions=1000)
        wall = time.perf_counter() - s0
        answered += res["requests"]
        n = max(1, res["requests"])
        before, rows = rows, usage_rows(ctx)
        samples.append({"t_s": round(time.perf_counter() - t0), "body": name, "rps": round(res["rps"]),
                        "billed_rps": round((rows - before) / wall),
                        "errors": res["socket_errors"] + res["non2xx"],
                        "relay_rss_mb": ctx.relay.rss(), "usage_pending": usage_pending(ctx.relay.port),
                        "relay_cpu_ms_per_req": round(1000 * (ctx.relay.cpu() - cpu0) / n, 3),
                        "db_cpu_ms_per_req": round(1000 * (procs.cpu_seconds(ctx.db_pid) - db0) / n, 3)
                        if db0 is not None else None})
        print(f"soak {samples[-1]}", flush=True)
        i += 1
    elapsed = time.perf_counter() - t0
    # Drain: every answered call must end up billed (the relay flushes every 0.5 s).
    deadline = time.monotonic() + 60
    while usage_rows(ctx) - rows0 < answered and time.monotonic() < deadline:
        time.sleep(0.5)
    billed = usage_rows(ctx) - rows0
    time.sleep(1.5)  # the counts file is written once a second
    counts = read_counts(counts_path)
    writes = _writes(counts) - writes0
    base, last = samples[1]["relay_rss_mb"], samples[-1]["relay_rss_mb"]
    return {"minutes": minutes, "segment_s": segment, "samples": samples, "rss_after_warmup_mb": base,
            "rss_end_mb": last, "rss_max_mb": max(s["relay_rss_mb"] for s in samples),
            "drift_pct": round(100 * (last - base) / base, 1),
            "requests": answered, "answered_rps": round(answered / elapsed), "billed": billed,
            # calls wrk cut at a segment's end are billed too: billed may exceed answered
            "billed_rps": round(billed / elapsed), "every_answered_billed": billed >= answered,
            "db_writes_per_request": round(writes / max(1, billed), 3) if counts["writes"] else None,
            "db_writes_by_kind": counts["writes"]}


def usage_rows(ctx: Ctx) -> int:
    """Usage rows in the bench database now (one per billed request)."""
    from pymongo import MongoClient

    with MongoClient(ctx.db_url, serverSelectionTimeoutMS=5000) as client:
        return client[ctx.db_name]["usage"].count_documents({})


def _writes(counts: dict) -> int:
    return sum(counts.get("writes", {}).values())


def add_ratios(row: dict) -> None:
    p = row["paths"]
    ok = {k: v for k, v in p.items() if v.get("requests")}  # a path that completed nothing has no latency
    d, r, lt, ng = ok.get("direct"), ok.get("relay"), ok.get("litellm"), ok.get("nginx")
    ratios = {}
    if r and lt:
        ratios["relay_over_litellm_rps"] = round(r["rps"] / max(lt["rps"], 1e-9), 3)
    for label, peer in (("relay", r), ("litellm", lt), ("nginx", ng)):
        if d and peer:
            ratios[f"{label}_over_direct_rps"] = round(peer["rps"] / max(d["rps"], 1e-9), 3)
            ratios[f"{label}_added_p50_ms"] = round(peer["p50_ms"] - d["p50_ms"], 3)
            ratios[f"{label}_added_p99_ms"] = round(peer["p99_ms"] - d["p99_ms"], 3)
    row["ratios"] = ratios


def summary_line(row: dict) -> str:
    parts = [f"{row['scenario']:26s} c={row['concurrency']:<3d}"]
    for label, v in row["paths"].items():
        parts.append(f"{label} {v['rps']:7.0f}/s e{v['errors']}" if "rps" in v else f"{label} ERROR")
    r = row["ratios"]
    if "relay_over_direct_rps" in r:
        parts.append(f"relay/direct {r['relay_over_direct_rps']:.2f} +p50 {r['relay_added_p50_ms']:.2f}ms")
    if "relay_over_litellm_rps" in r:
        parts.append(f"relay/litellm {r['relay_over_litellm_rps']:.2f}")
    return "  ".join(parts)


def ttft(ctx: Ctx, body: dict, requests: int, concurrency: int, interval_ms: int = 20,
         output_tokens: int = 20, deadline: float = 90) -> dict:
    """Paced streams (``interval_ms`` between deltas): request → first content_block_delta byte."""
    set_knobs(ctx.emu.port, delta_interval_ms=interval_ms, output_tokens=output_tokens)
    out = {"interval_ms": interval_ms, "output_tokens": output_tokens, "requests": requests,
           "concurrency": concurrency, "paths": {}}
    try:
        for path in ctx.paths:
            if "anthropic" not in path.protocols:
                continue
            header, value = path.auth["anthropic"]
            res = asyncio.run(ttft_run(path.port, "/v1/messages", {**body, "stream": True}, {header: value},
                                       requests, concurrency, deadline=deadline))
            out["paths"][path.label] = res
            print(f"ttft {path.label:8s} p50 {res['ttft_p50_ms']:.2f} ms  p99 {res['ttft_p99_ms']:.2f} ms"
                  f"  errors {res['errors']}", flush=True)
    finally:
        set_knobs(ctx.emu.port, **FAST)
    d = out["paths"].get("direct")
    for label in ("relay", "litellm", "nginx"):
        x = out["paths"].get(label)
        if d and x and x["requests"] and d["requests"]:
            out[f"{label}_added_ttft_p50_ms"] = round(x["ttft_p50_ms"] - d["ttft_p50_ms"], 2)
            out[f"{label}_added_ttft_p99_ms"] = round(x["ttft_p99_ms"] - d["ttft_p99_ms"], 2)
    return out


def open_streams(ctx: Ctx, key: str, counts: list[int], hold: float) -> list[dict]:
    """``count`` concurrent relay streams held ``hold`` s (emulator: 5 s between deltas)."""
    set_knobs(ctx.emu.port, delta_interval_ms=5000, output_tokens=60)
    body = {"model": "claude-sonnet-4-5", "max_tokens": 4096, "stream": True,
            "messages": [{"role": "user", "content": "say hi"}]}
    results = []
    try:
        for count in counts:
            idle = {"relay_rss_mb": ctx.relay.rss(), "emulator_rss_mb": ctx.emu.rss()}
            marks: dict[str, dict] = {}

            def sample(tag: str) -> dict:
                marks[tag] = {"t": time.perf_counter(), "relay_cpu_s": ctx.relay.cpu(), "emu_cpu_s": ctx.emu.cpu(),
                              "relay_rss_mb": ctx.relay.rss(), "emulator_rss_mb": ctx.emu.rss()}
                return {k: v for k, v in marks[tag].items() if k.endswith("_mb")}

            res = asyncio.run(hold_streams(ctx.relay.port, "/v1/messages", body, {"x-api-key": key}, count,
                                           hold, sample, ramp_timeout=120))
            a, b = marks["after_ramp"], marks["end_of_hold"]
            span = b["t"] - a["t"]
            res["idle"] = idle
            res["relay_rss_delta_mb"] = round(b["relay_rss_mb"] - idle["relay_rss_mb"], 1)
            res["relay_kb_per_stream"] = round(1024 * res["relay_rss_delta_mb"] / max(1, res["open"]), 1)
            res["relay_cpu_util_during_hold"] = round((b["relay_cpu_s"] - a["relay_cpu_s"]) / span, 3)
            res["emulator_cpu_util_during_hold"] = round((b["emu_cpu_s"] - a["emu_cpu_s"]) / span, 3)
            time.sleep(3)  # let the relay settle (client aborts, usage flush)
            res["relay_rss_after_close_mb"] = ctx.relay.rss()
            results.append(res)
            print(f"open streams {count}: open {res['open']} errors {res['errors']} ramp {res['ramp_s']} s  relay RSS "
                  f"{idle['relay_rss_mb']} -> {b['relay_rss_mb']} MB  relay CPU {res['relay_cpu_util_during_hold']:.2f}"
                  f" cores during hold", flush=True)
    finally:
        set_knobs(ctx.emu.port, **FAST)
    return results


def log_query(ctx: Ctx, checkpoints: list[int], seed_budget: float, query_budget: float, repeats: int) -> dict:
    """``GET /api/user/logs?limit=100`` with a dashboard JWT as the seeded usage rows grow.

    Rows are seeded (insert_many, 10k a batch) up to each checkpoint while the total seeding time
    stays under ``seed_budget``; at each checkpoint the first page and a deep page (offset: half the
    rows) are fetched up to ``repeats`` times, stopping early once ``query_budget`` s are spent."""
    base = f"http://127.0.0.1:{ctx.relay.port}"
    status, login = http_json("POST", base + "/api/user/login", {"email": USER_EMAIL, "password": USER_PASSWORD})
    if status != 200:
        return {"error": f"login {status}: {login}", "points": []}
    token = login["token"]
    out: dict = {"points": [], "target": checkpoints[-1], "seed_budget_s": seed_budget}
    seeded, seed_s = 0, 0.0
    for target in checkpoints:
        while seeded < target and seed_s < seed_budget:
            chunk = min(target - seeded, 50_000)
            res = asyncio.run(seed_usage(ctx.db_url, ctx.db_name, chunk, start=seeded))
            seeded += chunk
            seed_s += res["seconds"]
        rate = round(seeded / max(seed_s, 1e-9))
        print(f"seeded {seeded} usage rows in {seed_s:.1f} s ({rate}/s)", flush=True)
        point = {"rows": seeded, "seed_s": round(seed_s, 1), "rows_per_s": rate}
        for label, offset in (("first", 0), ("deep", seeded // 2)):
            times, total, err = [], None, None
            t_start = time.perf_counter()
            while len(times) < repeats and time.perf_counter() - t_start < query_budget:
                req = urllib.request.Request(f"{base}/api/user/logs?limit=100&offset={offset}",
                                             headers={"authorization": f"Bearer {token}"})
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(req, timeout=120) as resp:
                        data = json.loads(resp.read())
                except Exception as exc:  # noqa: BLE001 - recorded, with how long it took and why
                    body = exc.read()[:300].decode(errors="replace") if hasattr(exc, "read") else ""
                    err = f"{exc!r} after {(time.perf_counter() - t0) * 1000:.0f} ms {body}".strip()[:400]
                    point.setdefault("relay_log_tail", ctx.relay.tail(15))
                    break
                times.append((time.perf_counter() - t0) * 1000)
                total = data.get("total")
            point[label] = {"offset": offset, "n": len(times), "p50_ms": round(statistics.median(times), 1) if times else None,
                            "max_ms": round(max(times), 1) if times else None, "total": total, "error": err}
            print(f"logs rows={seeded} offset {offset}: p50 {point[label]['p50_ms']} ms over {len(times)}"
                  f"{' ERROR ' + err if err else ''}", flush=True)
        out["points"].append(point)
        if seed_s >= seed_budget:
            break
    out["seeded"] = seeded
    return out
