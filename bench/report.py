"""bench/results/<date>.json and .md: absolutes and the ratios that matter."""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def _f(v, fmt: str = ".0f", dash: str = "–") -> str:
    return dash if v is None else format(v, fmt)


def write(result: dict, partial: bool = False) -> Path:
    """Write the JSON and the markdown; ``partial``: after each phase, quietly (a crash keeps them)."""
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = result["date"][:10] + ("-quick" if result["quick"] else "")
    if result.get("only"):
        stamp += "-" + "-".join(sorted(result["only"]))
    (OUT / f"{stamp}.json").write_text(json.dumps(result, indent=2, default=str))
    md = render(result)
    (OUT / f"{stamp}.md").write_text(md)
    if not partial:
        print(md)
    return OUT / f"{stamp}.md"


def render(r: dict) -> str:
    from bench.scenarios import add_ratios

    for row in r.get("throughput", []):
        add_ratios(row)  # recomputed, so an old JSON renders with the current rules
    m = r["machine"]
    L = [f"# Jiuliu Relay benchmark, {r['date']}{' (--quick)' if r['quick'] else ''}"
         f"{'' if r.get('complete') else ' (INCOMPLETE: see the notes)'}", "",
         f"{m['cpus']} CPUs shared by every process (load generator included), Python {m['python']}, "
         f"{r['seconds_per_run']} s per wrk run, all on 127.0.0.1, total {r.get('total_seconds', '?')} s, "
         f"1-min load average {m.get('loadavg_at_start', 0):.1f} before / {m.get('loadavg_at_end', 0):.1f} after "
         "(the machine is shared: absolute numbers move between runs, ratios less so). "
         "Paths: **direct** = emulator, **nginx** = nginx-light one hop (C floor), **relay** = Jiuliu full path "
         "(auth, routing, billing), **litellm** = LiteLLM proxy (no DB, 1 worker). Same emulator, same bodies.", "",
         "## Throughput and added latency (wrk)", "",
         "| scenario | conc | direct req/s | nginx req/s | relay req/s | litellm req/s | relay/direct | relay/litellm "
         "| relay +p50 ms | relay +p99 ms | litellm +p50 ms | relay CPU ms/req | relay's DB CPU ms/req | litellm CPU ms/req "
         "| emu CPU ms/req (direct) | errors d/n/r/l |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in r.get("throughput", []):
        p, q = row["paths"], row["ratios"]

        def g(label, key):
            return p.get(label, {}).get(key)

        cpu = lambda label, proc: p.get(label, {}).get("cpu_ms_per_req", {}).get(proc)  # noqa: E731
        errs = "/".join((str(g(x, "errors")) + ("" if g(x, "requests") else " (0 done)")) if x in p else "–" for x in ("direct", "nginx", "relay", "litellm"))
        L.append(f"| {row['scenario']} | {row['concurrency']} | {_f(g('direct', 'rps'))} | {_f(g('nginx', 'rps'))} | "
                 f"{_f(g('relay', 'rps'))} | {_f(g('litellm', 'rps'))} | {_f(q.get('relay_over_direct_rps'), '.2f')} | "
                 f"{_f(q.get('relay_over_litellm_rps'), '.2f')} | {_f(q.get('relay_added_p50_ms'), '.2f')} | "
                 f"{_f(q.get('relay_added_p99_ms'), '.2f')} | {_f(q.get('litellm_added_p50_ms'), '.2f')} | "
                 f"{_f(cpu('relay', 'relay'), '.3f')} | {_f(cpu('relay', 'db'), '.3f')} | "
                 f"{_f(cpu('litellm', 'litellm'), '.3f')} | "
                 f"{_f(cpu('direct', 'emulator'), '.3f')} | {errs} |")
    w = r.get("workers")
    if w and w.get("rows"):
        L += ["", "## One relay process vs `--workers 2` (pre-fork; same 2 cores, shared with wrk, the emulator "
              "and the database)", "",
              "| scenario | conc | 1 worker req/s | 2 workers req/s | 2/1 | 1 worker CPU ms/req | 2 workers CPU ms/req "
              "| DB CPU ms/req (1 / 2) |", "|---|---|---|---|---|---|---|---|"]
        for row in w["rows"]:
            one, two = row["paths"].get("relay", {}), row["paths"].get("relay-w2", {})
            c1, c2 = one.get("cpu_ms_per_req", {}), two.get("cpu_ms_per_req", {})
            L.append(f"| {row['scenario']} | {row['concurrency']} | {_f(one.get('rps'))} | {_f(two.get('rps'))} | "
                     f"{_f(row['ratios'].get('w2_over_w1_rps'), '.2f')} | {_f(c1.get('relay'), '.3f')} | "
                     f"{_f(c2.get('relay-w2'), '.3f')} | {_f(c1.get('db'), '.3f')} / {_f(c2.get('db'), '.3f')} |")
    t = r.get("ttft")
    if t:
        L += ["", f"## Time to first token (emulator {t['interval_ms']} ms between deltas, {t['output_tokens']} deltas, "
              f"{t['requests']} streams at concurrency {t['concurrency']})", "",
              "| path | TTFT p50 ms | TTFT p99 ms | added p50 ms | added p99 ms | errors |", "|---|---|---|---|---|---|"]
        for label, v in t["paths"].items():
            L.append(f"| {label} | {v['ttft_p50_ms']:.2f} | {v['ttft_p99_ms']:.2f} | "
                     f"{_f(t.get(f'{label}_added_ttft_p50_ms'), '.2f')} | {_f(t.get(f'{label}_added_ttft_p99_ms'), '.2f')} "
                     f"| {v['errors']} |")
    if r.get("open_streams"):
        L += ["", f"## Concurrent open streams through the relay (held {r['open_streams'][0]['hold_s']} s, "
              "emulator 5 s between deltas)", "",
              "| streams | open | errors | ramp s | relay RSS idle MB | relay RSS held MB | KB/stream | "
              "relay CPU (cores) held | emulator CPU held | relay RSS after close MB |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for s in r["open_streams"]:
            L.append(f"| {s['requested']} | {s['open']} | {s['errors']} | {s['ramp_s']} | {s['idle']['relay_rss_mb']} | "
                     f"{s['after']['relay_rss_mb']} | {s['relay_kb_per_stream']} | {s['relay_cpu_util_during_hold']} | "
                     f"{s['emulator_cpu_util_during_hold']} | {s['relay_rss_after_close_mb']} |")
    sk = r.get("soak")
    if sk:
        verdict = "flat" if abs(sk["drift_pct"]) <= 10 else "NOT flat"
        billed_note = ("every answered call billed; rows beyond are calls wrk cut at a segment end, "
                       "billed as aborts") if sk.get("every_answered_billed") else "NOT all billed"
        writes = ", ".join(f"{k} {v:,}" for k, v in sorted((sk.get("db_writes_by_kind") or {}).items()))
        L += ["", f"## Soak: {sk['minutes']} min of steady load (c=16, 1,000 sessions, {sk['segment_s']} s segments)", "",
              f"Relay RSS after the warm-up segment {sk['rss_after_warmup_mb']} MB, at the end {sk['rss_end_mb']} MB, "
              f"peak {sk['rss_max_mb']} MB: drift {sk['drift_pct']:+.1f}% ({verdict} within 10%), "
              f"~{sk['requests']:,} requests.", "",
              f"Answered **{sk.get('answered_rps', '–')}/s**, billed (usage rows written) "
              f"**{sk.get('billed_rps', '–')}/s**; {_f(sk.get('billed'), ',')} billed of "
              f"{sk['requests']:,} answered ({billed_note}); database writes per billed request "
              f"**{_f(sk.get('db_writes_per_request'), '.2f')}** ({writes}).", "",
              "| t s | body | answered req/s | billed req/s | errors | relay RSS MB "
              "| usage records not yet written | relay CPU ms/req | DB CPU ms/req |",
              "|---|---|---|---|---|---|---|---|---|"]
        L += [f"| {x['t_s']} | {x['body']} | {x['rps']} | {x.get('billed_rps', '–')} | {x['errors']} | "
              f"{x['relay_rss_mb']} | {_f(x.get('usage_pending'), ',')} | {x['relay_cpu_ms_per_req']} | "
              f"{_f(x.get('db_cpu_ms_per_req'), '.3f')} |" for x in sk["samples"]]
    lq = r.get("log_query")
    if lq:
        L += ["", "## User log page (`GET /api/user/logs?limit=100`, dashboard JWT, usage rows seeded with insert_many)", ""]
        if lq.get("error"):
            L.append(f"Failed: {lq['error']}")
        L += ["| usage rows | seeded in s (rows/s) | first page p50 ms (n) | deep page offset | deep p50 ms (n) | "
              "total reported |", "|---|---|---|---|---|---|"]
        for pt in lq.get("points", []):
            f, d = pt["first"], pt["deep"]
            L.append(f"| {pt['rows']:,} | {pt['seed_s']} ({pt['rows_per_s']:,}) | {_f(f['p50_ms'], '.1f')} ({f['n']})"
                     f"{' ' + f['error'] if f['error'] else ''} | {d['offset']:,} | {_f(d['p50_ms'], '.1f')} ({d['n']})"
                     f"{' ' + d['error'] if d['error'] else ''} | {f['total']} |")
    L += ["", "## Memory (RSS, MB) at the end", "", "| process | RSS MB |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in r.get("rss_mb", {}).items()]
    if r.get("phases"):
        L += ["", "## Phases", "", "| phase | relay settle s before | seconds | error |", "|---|---|---|---|"]
        L += [f"| {p['phase']} | {_f(p.get('relay_settle_s'), '.1f', 'no answer')} | {p.get('seconds')} | "
              f"{p.get('error', '')} |" for p in r["phases"]]
    L += ["", "## Notes", ""] + [f"- {n}" for n in r.get("notes", [])]
    return "\n".join(L) + "\n"


if __name__ == "__main__":  # re-render a results JSON: python bench/report.py bench/results/<date>.json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    src = Path(sys.argv[1])
    data = json.loads(src.read_text())
    src.with_suffix(".md").write_text(render(data))
    print(src.with_suffix(".md").read_text())
