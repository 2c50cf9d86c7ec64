"""The user log page over millions of usage rows, on the embedded database.

    .venv/bin/python bench/bigdb.py [--rows 10000000] [--others 20] [--per-other 50000]

Seeding 10 M rows through the wire protocol would take over an hour (~2,600 rows/s into
nx-27017), so this script writes them straight into nx-27017's SQLite table in its own JSON format
(``neosqlite_json_dumps``; dates as nx-27017 decodes BSON dates), with the matching hourly and
daily roll-ups, while the database is stopped; then it builds the ``usage`` indexes the relay
declares (the slow part), starts the database and a relay on it, logs in as the heavy user and
times ``GET /api/user/logs``: the first page, cursor pages deep in the log, offsets, filters.
Results: ``bench/results/<date>-bigdb-<N>M.json`` and ``.md``. Everything stays on 127.0.0.1; the
data directory is a temporary one, removed at the end (it is ~1.4 GB per million rows)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neosqlite import Connection  # noqa: E402
from neosqlite.collection.json_helpers import neosqlite_json_dumps  # noqa: E402

from bench import procs  # noqa: E402
from bench.seeding import USER_EMAIL, USER_ID, USER_PASSWORD, http_json  # noqa: E402
from server.accounts.passwords import PasswordHasher  # noqa: E402
from server.billing.charges import UsageRecord, usage_doc  # noqa: E402
from server.pricing.pricing import PriceRule  # noqa: E402
from server.pricing.usage import Usage  # noqa: E402
from server.embedded_db import EmbeddedMongo  # noqa: E402
from server.storage.db import COLLECTIONS, Storage  # noqa: E402
from server.storage.rollups import bucket_start, count_row, rollup_id  # noqa: E402

MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "gpt-5-codex"]
DB_NAME = "bench"
OUT = ROOT / "bench" / "results"


async def prepare(data_dir: Path) -> None:
    """Create the collections (and the heavy user) through the server, so the tables exist."""
    db = EmbeddedMongo(data_dir)
    await db.start()
    storage = Storage.connect(db.url, DB_NAME)
    await storage.ensure_indexes()
    for name in ("usage", "rollups"):
        await storage.db[name].insert_one({"_id": "x"})
        await storage.db[name].delete_one({"_id": "x"})
    await storage.db.users.insert_one({
        "_id": USER_ID, "username": "bench", "email": USER_EMAIL,
        "password_hash": await PasswordHasher(4).hash(USER_PASSWORD), "role": "user", "status": "active",
        "balance": 10**12, "token_version": 0, "created_at": dt.datetime.now(dt.timezone.utc), "ledger_marks": {}})
    for suffix in ("a", "b"):  # the heavy user's two keys (the log's key filter checks ownership)
        await storage.db.api_keys.insert_one({
            "_id": f"key_{USER_ID}_{suffix}", "user_id": USER_ID, "name": suffix, "group": "claude",
            "key_hash": f"bigdb-{suffix}", "prefix": "sk-bigdb", "rate_limit": 0, "max_concurrency": 0,
            "expires_at": None, "models": [], "spend_quota": 0, "status": "active",
            "created_at": dt.datetime.now(dt.timezone.utc), "last_used_at": None, "totals": {}})
    await storage.close()
    db.stop()


def write_rows(db_file: Path, users: list[tuple[str, int]]) -> dict:
    """Usage rows over the last 30 days (three rows share each millisecond, as bursts do) and
    their roll-ups, written with the usage indexes dropped (they are built afterwards)."""
    con = sqlite3.connect(db_file)
    for (name,) in con.execute("select name from sqlite_master where type='index' and tbl_name='usage' "
                               "and name like 'idx_usage_%'").fetchall():
        con.execute(f'drop index "{name}"')
    con.commit()
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    rule = PriceRule.build("claude-sonnet-4-5*", 3_000_000, 15_000_000)
    now = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    record = UsageRecord(request_id="req_t", user_id=USER_ID, key_id="k", group="claude", model=MODELS[0],
                         usage=Usage(input=1200, output=350, cache_read=40_000), rule=rule, endpoint="/v1/messages",
                         stream=True, latency_ms=1800, ttft_ms=420, account_id="ups_bench_0",
                         account_name="emu-anthropic-1", upstream_model=MODELS[0], client_ip="127.0.0.1",
                         user_agent="claude-cli", key_name="claude", ts=now)
    template = usage_doc(record, record.cost())
    sums: dict[str, dict] = {}
    t0 = time.perf_counter()
    for user, count in users:
        step = dt.timedelta(seconds=30 * 86400 / max(count, 1))
        batch = []
        for i in range(count):
            rid = f"req_{user}_{i:08d}"
            doc = dict(template)
            doc["_id"] = doc["request_id"] = rid
            doc["user_id"] = user
            ts = now - step * ((i // 3) * 3 + 1)
            ts = ts.replace(microsecond=ts.microsecond // 1000 * 1000)
            doc["ts"] = ts.replace(tzinfo=None)
            doc["key_id"] = f"key_{user}_b" if i % 4 == 0 else f"key_{user}_a"
            doc["model"] = MODELS[i % 3]
            doc["ledger_id"] = "chg_" + rid
            batch.append((rid, neosqlite_json_dumps(doc)))
            for period in ("hour", "day"):
                bucket = bucket_start(ts, period)
                for dim, value in (("user", user), ("key", doc["key_id"])):
                    totals = sums.setdefault(rollup_id(period, bucket, dim, value),
                                             {"period": period, "bucket": bucket.isoformat(), "dim": dim,
                                              "value": value})
                    count_row(totals, doc)
            if len(batch) == 50_000:
                con.executemany("insert into usage(_id, data) values (?, ?)", batch)
                batch = []
        if batch:
            con.executemany("insert into usage(_id, data) values (?, ?)", batch)
        con.commit()
        print(f"{user}: {count:,} rows, {time.perf_counter() - t0:.0f} s", flush=True)
    rows = [(rid, neosqlite_json_dumps({"_id": rid, **totals})) for rid, totals in sums.items()]
    con.executemany("insert into rollups(_id, data) values (?, ?)", rows)
    con.commit()
    con.close()
    return {"rows_s": round(time.perf_counter() - t0), "rollups": len(rows)}


def build_indexes(db_file: Path) -> dict:
    conn = Connection(str(db_file))
    out = {}
    for index in COLLECTIONS["usage"]:
        t0 = time.perf_counter()
        name = conn["usage"].create_index(index.keys, unique=index.unique, sparse=index.sparse)
        out[name] = round(time.perf_counter() - t0)
        print(f"index {name}: {out[name]} s", flush=True)
    conn.close()
    return out


def timed(base: str, token: str, params: str, runs: int) -> tuple[float, dict]:
    times, body = [], {}
    for _ in range(runs):
        req = urllib.request.Request(f"{base}/api/user/logs?{params}", headers={"authorization": f"Bearer {token}"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=600) as resp:
            body = json.loads(resp.read())
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1), body


def measure(base: str, heavy: int) -> list[dict]:
    status, login = http_json("POST", base + "/api/user/login", {"email": USER_EMAIL, "password": USER_PASSWORD})
    if status != 200:
        raise RuntimeError(f"login {status}: {login}")
    token = login["token"]
    out = []

    def row(label: str, params: str, runs: int = 5) -> dict:
        ms, body = timed(base, token, params, runs)
        out.append({"query": label, "params": params, "p50_ms": ms, "runs": runs, "rows": len(body.get("data", [])),
                    "total": body.get("total"), "total_exact": body.get("total_exact")})
        print(f"{label:34s} {ms:8.1f} ms  rows {out[-1]['rows']}  total {out[-1]['total']}", flush=True)
        return body

    body = row("first page (limit 100)", "limit=100")
    cursor, depth = body.get("next_cursor"), 100
    while cursor and depth < min(10_000, heavy // 2):  # walk deep with cursors
        _, page = timed(base, token, f"limit=500&before={cursor}", 1)
        cursor, depth = page.get("next_cursor"), depth + 500
    if cursor:
        row(f"cursor page {depth:,} rows deep", f"limit=100&before={cursor}")
    row("model filter", "limit=100&model=gpt-5-codex")
    row("key filter", f"limit=100&key=key_{USER_ID}_b")
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=12)).strftime("%Y-%m-%dT%H:%M:%S.123Z")
    until = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%S.456Z")
    row("date range (3 days)", f"limit=100&from={since}&to={until}")
    for offset in (10_000, heavy // 2):
        row(f"offset {offset:,}", f"limit=100&offset={offset}", runs=3)
    return out


def render(result: dict) -> str:
    lines = [f"# Log page over {result['rows_total']:,} usage rows ({result['date']})", "",
             f"Embedded database (nx-27017), {result['heavy_rows']:,} rows of one user and "
             f"{result['others']} × {result['per_other']:,} of others; rows written straight into SQLite in "
             f"{result['write']['rows_s']} s, usage indexes built in {sum(result['indexes'].values())} s. "
             "Times through HTTP (`GET /api/user/logs`, dashboard JWT), median.", "",
             "| query | p50 ms | runs | rows | total (exact?) |", "|---|---|---|---|---|"]
    for r in result["queries"]:
        lines.append(f"| {r['query']} | {r['p50_ms']} | {r['runs']} | {r['rows']} | {r['total']} "
                     f"({'exact' if r['total_exact'] is not False else 'at least'}) |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of the heavy user")
    ap.add_argument("--others", type=int, default=20, help="other users")
    ap.add_argument("--per-other", type=int, default=50_000, help="rows per other user")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jiuliu-bigdb-"))
    data_dir = tmp / "db"
    relay = None
    db = None
    try:
        asyncio.run(prepare(data_dir))
        db_file = next(data_dir.glob("*.db"))
        users = [(USER_ID, args.rows)] + [(f"usr_o{j:02d}", args.per_other) for j in range(args.others)]
        write = write_rows(db_file, users)
        indexes = build_indexes(db_file)
        db = EmbeddedMongo(data_dir)
        asyncio.run(db.start())
        env = {**os.environ, "MONGO_URL": db.url, "JIULIU_DB_NAME": DB_NAME, "JIULIU_LOG_LEVEL": "warning",
               "JIULIU_DATA_DIR": str(tmp), "JIULIU_BCRYPT_ROUNDS": "4"}
        port = procs.free_port()
        relay = procs.start("relay", [sys.executable, "-m", "server.cli", "serve", "--port", str(port)], port, tmp,
                            env=env)
        procs.wait_port(relay, timeout=600)
        queries = measure(f"http://127.0.0.1:{port}", args.rows)
        result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "heavy_rows": args.rows,
                  "others": args.others, "per_other": args.per_other,
                  "rows_total": args.rows + args.others * args.per_other, "write": write, "indexes": indexes,
                  "queries": queries}
        OUT.mkdir(parents=True, exist_ok=True)
        stamp = result["date"][:10] + f"-bigdb-{result['rows_total'] // 1_000_000}M"
        (OUT / f"{stamp}.json").write_text(json.dumps(result, indent=2))
        (OUT / f"{stamp}.md").write_text(render(result))
        print(render(result))
        return 0
    finally:
        if relay is not None:
            procs.stop(relay)
        if db is not None:
            db.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
