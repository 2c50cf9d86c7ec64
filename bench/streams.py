"""Small raw-asyncio HTTP/1.1 clients for streams: time to first token, and many open streams.

No client library on purpose: 10,000 sockets in one event loop stay cheap this way."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

FIRST_DELTA = b"content_block_delta"


def _request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"host: 127.0.0.1:{port}", "content-type: application/json",
            "anthropic-version: 2023-06-01", f"content-length: {len(body)}", "connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def _one_ttft(port: int, raw: bytes, timeout: float) -> tuple[float, float]:
    """(seconds to the first content_block_delta byte, seconds to the end of the stream)."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(raw)
        ttft = None
        buf = b""
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                if ttft is None:
                    buf += chunk
                    if FIRST_DELTA in buf:
                        ttft = time.perf_counter() - t0
                        if not buf.startswith(b"HTTP/1.1 200"):
                            raise RuntimeError(buf[:200].decode(errors="replace"))
        if ttft is None and buf and not buf.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(buf[:200].decode(errors="replace"))
        if ttft is None:
            raise RuntimeError("stream ended without a content_block_delta")
        return ttft, time.perf_counter() - t0
    finally:
        writer.close()


async def ttft_run(port: int, path: str, body: dict, headers: dict[str, str], requests: int,
                   concurrency: int, timeout: float = 30, deadline: float = 90) -> dict:
    raw = _request(port, path, json.dumps(body).encode(), headers)
    sem = asyncio.Semaphore(concurrency)
    ttfts, totals, errors = [], [], []

    async def one() -> None:
        async with sem:
            try:
                t, total = await _one_ttft(port, raw, timeout)
                ttfts.append(t * 1000)
                totals.append(total * 1000)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(repr(exc)[:200])

    try:  # the whole run is bounded too: a stalled proxy must not hold the benchmark
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(requests))), deadline)
    except asyncio.TimeoutError:
        errors.append(f"deadline of {deadline:.0f} s reached")
    return {"requests": len(ttfts), "errors": len(errors), "first_error": errors[0] if errors else None,
            "ttft_p50_ms": round(pct(ttfts, 50), 2), "ttft_p99_ms": round(pct(ttfts, 99), 2),
            "ttft_mean_ms": round(statistics.fmean(ttfts), 2) if ttfts else None,
            "stream_p50_ms": round(pct(totals, 50), 1)}


async def hold_streams(port: int, path: str, body: dict, headers: dict[str, str], count: int,
                       hold: float, sample, ramp_timeout: float = 90, connect_parallel: int = 256) -> dict:
    """Open ``count`` streams (at most ``connect_parallel`` connecting at once), wait for each
    one's first response bytes, keep them all open ``hold`` seconds (reading what arrives), then
    close them. ``sample(tag)`` is called after the ramp and at the end of the hold."""
    raw = _request(port, path, json.dumps(body).encode(), headers)
    sem = asyncio.Semaphore(connect_parallel)
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    errors: list[str] = []
    received = [0]

    async def open_one() -> None:
        async with sem:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(raw)
                first = await asyncio.wait_for(reader.read(4096), 30)
                if not first.startswith(b"HTTP/1.1 200"):
                    writer.close()
                    raise RuntimeError(first[:120].decode(errors="replace"))
                opened.append((reader, writer))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(repr(exc)[:200])

    async def drain(reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(65536):
                received[0] += len(chunk)
        except Exception:  # noqa: BLE001
            pass

    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(open_one() for _ in range(count))), ramp_timeout)
    except asyncio.TimeoutError:
        errors.append("ramp timeout")
    ramp = time.perf_counter() - t0
    drains = [asyncio.create_task(drain(r)) for r, _ in opened]
    before = sample("after_ramp")
    await asyncio.sleep(hold)
    after = sample("end_of_hold")
    for _, writer in opened:
        writer.close()
    for task in drains:
        task.cancel()
    await asyncio.gather(*drains, return_exceptions=True)
    return {"requested": count, "open": len(opened), "errors": len(errors),
            "first_error": errors[0] if errors else None, "ramp_s": round(ramp, 1), "hold_s": hold,
            "bytes_received_during_hold": received[0], "before": before, "after": after}
