"""Which upstream HTTP client: the relay's ``UpstreamClient`` (aiohttp underneath, with its
header checks, timeouts by phase and response wrapper), a bare aiohttp session, httpx, and
optionally the relay's former own HTTP/1.1 client (``--with-old``: loaded from git history,
the commit before it was deleted), against the emulator on 127.0.0.1, same requests, one
process. Prints requests/s, CPU ms per request and the TCP connections each opened after warm-up.

    .venv/bin/python bench/upstream_clients.py [--requests 2000] [--concurrency 16] [--with-old]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402

from emulator import EmulatorAccount, start_emulator  # noqa: E402
from server.upstream.client import UpstreamClient  # noqa: E402
from server.settings import Settings  # noqa: E402

BODY = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 16, "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
HEADERS = {"x-api-key": "bench", "content-type": "application/json", "anthropic-version": "2023-06-01",
           "accept-encoding": "identity"}
OLD_CLIENT_COMMIT = "dc9417c"  # the last commit with server/relay/http11.py


async def drive(call: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> tuple[float, float]:
    """(requests/s, CPU ms per request) for ``requests`` calls at ``concurrency``."""
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            await call()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, 1000 * cpu / requests


def load_old_client() -> Any:
    """server/relay/http11.py as it was before its deletion (from git), as a module."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_CLIENT_COMMIT}:server/relay/http11.py"],
                            check=True, capture_output=True).stdout
    path = Path(tempfile.mkdtemp()) / "http11_old.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("http11_old", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--with-old", action="store_true", help="also the former own client, from git")
    args = parser.parse_args()
    # The emulator runs in this process too; its CPU is in the figures for every client alike.
    emu = await start_emulator([EmulatorAccount(api_key="bench")])
    url = emu.base_url + "/v1/messages"
    opened = {"n": 0}

    def counting(connector: aiohttp.TCPConnector) -> aiohttp.TCPConnector:
        original = connector._create_connection

        async def create(*a: Any, **kw: Any) -> Any:
            opened["n"] += 1
            return await original(*a, **kw)

        connector._create_connection = create  # type: ignore[method-assign]
        return connector

    relay_client = UpstreamClient(Settings())

    async def relay_call() -> None:
        response = await relay_client.request("POST", url, HEADERS, BODY)
        while await response.content.readany():
            pass
        response.release()

    await relay_call()  # creates its session
    assert relay_client._direct is not None
    counting(relay_client._direct.connector)  # type: ignore[arg-type]

    session = aiohttp.ClientSession(connector=counting(aiohttp.TCPConnector(limit=0)), auto_decompress=False)

    async def aiohttp_call() -> None:
        async with session.post(url, data=BODY, headers=HEADERS) as resp:
            async for _ in resp.content.iter_any():
                pass

    hx = httpx.AsyncClient(limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
                           timeout=30)

    async def httpx_call() -> None:
        async with hx.stream("POST", url, content=BODY, headers=HEADERS) as resp:
            async for _ in resp.aiter_raw():
                pass

    calls: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("UpstreamClient (aiohttp)", relay_call), ("aiohttp bare", aiohttp_call), ("httpx", httpx_call)]
    old = None
    if args.with_old:
        module = load_old_client()
        old = module.Http11Client(connect_timeout=5, idle_timeout=30)
        origin = module.Origin(url)

        async def old_call() -> None:
            response = await old.request("POST", origin, HEADERS, BODY)
            while await response.readany():
                pass
            response.release()

        calls.insert(0, ("own http11 (deleted)", old_call))

    results: dict[str, dict[str, Any]] = {}
    for name, call in calls:
        await drive(call, 100, args.concurrency)  # warm up
        emu.state.reset()
        opened["n"] = 0
        if old is not None:
            old.opened = 0
        rps, cpu = await drive(call, args.requests, args.concurrency)
        results[name] = {"rps": round(rps, 1), "cpu_ms_per_req": round(cpu, 3)}
        if name.startswith("own"):
            results[name]["new_connections"] = old.opened
        elif name != "httpx":
            results[name]["new_connections"] = opened["n"]
    await relay_client.close()
    await session.close()
    await hx.aclose()
    if old is not None:
        await old.close()
    await emu.stop()
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
