"""The usage journal's cost on the event loop (issue 16): each finished request's record is
written to the journal with one ``write()`` before its answer's last bytes leave.

    .venv/bin/python bench/journal.py            # a few seconds

Measures, on this machine's disk (page cache, no fsync), per record of a realistic size:
the line's encoding (``usage_doc`` + orjson), the ``write()``, and an emptying after a flush
(``ftruncate`` of a file of 500 lines). Prints one JSON object (the README quotes it)."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from server.billing.charges import UsageRecord
from server.billing.journal import UsageJournal, to_line
from server.pricing.pricing import PriceRule
from server.pricing.usage import Usage
from server.ids import new_id

RULE = PriceRule.build("claude-sonnet-4*", input=3_000_000, output=15_000_000)


def _record() -> UsageRecord:
    return UsageRecord(request_id=new_id("req"), user_id=new_id("usr"), key_id=new_id("key"), group="claude",
                       model="claude-sonnet-4-5", usage=Usage(input=12_345, output=678, cache_read=40_000),
                       rule=RULE, multiplier_ppm=1_200_000, stream=True, endpoint="/v1/messages",
                       account_id=new_id("acc"), account_name="anthropic-1", upstream_model="claude-sonnet-4-5",
                       upstream_request_id="req_011CUpstream", client_ip="203.0.113.7",
                       user_agent="claude-cli/2.0.14 (external, cli)", session_hash="s" * 32, key_name="laptop",
                       latency_ms=2345, ttft_ms=456, hold=99_000)


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {"median_us": round(statistics.median(samples) * 1e6, 1),
            "p99_us": round(samples[int(len(samples) * 0.99)] * 1e6, 1),
            "max_us": round(samples[-1] * 1e6, 1)}


def main(n: int = 20_000) -> dict:
    records = [_record() for _ in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        journal = UsageJournal.open(Path(tmp), 0)
        encode, append, truncate = [], [], []
        for i, record in enumerate(records):
            record._cost = None  # price it again, as a live record is priced once at its end
            t0 = time.perf_counter()
            to_line(record)
            t1 = time.perf_counter()
            journal.append(record)  # encodes again and writes: the real call
            t2 = time.perf_counter()
            encode.append(t1 - t0)
            append.append(t2 - t1)
            if i % 500 == 499:
                t3 = time.perf_counter()
                journal.truncate()
                truncate.append(time.perf_counter() - t3)
        line = len(to_line(records[0]))
        journal.close()
    return {"records": n, "line_bytes": line, "encode": _percentiles(encode),
            "append_incl_encode": _percentiles(append), "truncate_500_lines": _percentiles(truncate)}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
