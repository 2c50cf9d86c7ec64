"""Which upstream HTTP client: the relay's own (server/relay/http11.py) vs aiohttp's pooled session
vs Tornado's simple client, against the emulator on 127.0.0.1, same requests, one process. Prints requests/s, CPU ms per request and
the number of TCP connections each opened (keep-alive or not).

    .venv/bin/python bench/upstream_clients.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import tornado.httpclient  # noqa: E402

from server.emulator import EmulatorAccount, start_emulator  # noqa: E402
from server.relay.http11 import Http11Client, Origin  # noqa: E402

BODY = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 16, "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
HEADERS = {"x-api-key": "bench", "content-type": "application/json", "anthropic-version": "2023-06-01"}


async def drive(call, requests: int, concurrency: int) -> tuple[float, float]:
    """(requests/s, CPU ms per request) for ``requests`` calls at ``concurrency``."""
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            await call()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, 1000 * cpu / requests


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    # The emulator runs in this process too; its CPU is in the figures for both clients alike.
    emu = await start_emulator([EmulatorAccount(api_key="bench")])
    url = emu.base_url + "/v1/messages"
    connections = {"n": 0}

    class Counting(aiohttp.TCPConnector):
        async def _create_connection(self, *a, **kw):  # noqa: ANN002
            connections["n"] += 1
            return await super()._create_connection(*a, **kw)

    session = aiohttp.ClientSession(connector=Counting(limit=0), auto_decompress=False)

    async def aiohttp_call() -> None:
        async with session.post(url, data=BODY, headers=HEADERS) as resp:
            async for _ in resp.content.iter_any():
                pass

    simple = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=args.concurrency)
    before = {"n": 0}

    async def tornado_call() -> None:
        await simple.fetch(url, method="POST", body=BODY, headers=HEADERS,
                           streaming_callback=lambda chunk: None)

    own = Http11Client(connect_timeout=5, idle_timeout=30)
    origin = Origin(url)

    async def http11_call() -> None:
        response = await own.request("POST", origin, HEADERS, BODY)
        while await response.readany():
            pass
        response.release()

    results = {}
    for name, call in (("http11", http11_call), ("aiohttp", aiohttp_call), ("tornado-simple", tornado_call)):
        await drive(call, 100, args.concurrency)  # warm up
        emu.state.reset()
        before["n"] = connections["n"]
        own.opened = 0
        rps, cpu = await drive(call, args.requests, args.concurrency)
        results[name] = {"rps": round(rps, 1), "cpu_ms_per_req": round(cpu, 3)}
        if name == "aiohttp":
            results[name]["new_connections"] = connections["n"] - before["n"]
        if name == "http11":
            results[name]["new_connections"] = own.opened
    results["tornado-simple"]["new_connections"] = "one per request (no keep-alive in SimpleAsyncHTTPClient)"
    await session.close()
    await own.close()
    simple.close()
    await emu.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
