"""Graceful shutdown: a stream in flight when the relay is told to stop runs to its end, its
usage is flushed before the database client closes, and new connections are refused."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from server.runtime import Runtime
from server.settings import Settings
from server.storage.db import Storage
from tests.conftest import TEST_SECRETS_KEY
from tests.relay.support import add_upstreams, make_key, make_user, start_pool_emulator


async def test_in_flight_stream_finishes_and_is_billed(embedded_db, tmp_path):
    db_name = "t_shutdown_" + uuid.uuid4().hex[:6]
    runtime = Runtime(Settings(mongo_url=embedded_db.url, db_name=db_name, port=0, bcrypt_rounds=4,
                               shutdown_grace=10, data_dir=str(tmp_path),
                               # nx-27017 shares collections between database names (README)
                               secrets_key=TEST_SECRETS_KEY.decode()))
    emu = await start_pool_emulator(["g1"])
    checker = Storage.connect(embedded_db.url, db_name)
    try:
        await runtime.start()
        deps = runtime.deps
        await add_upstreams(deps, emu, ["g1"], "claude", "anthropic")
        user = await make_user(deps.storage)
        key = await make_key(deps.storage, user["_id"], "claude")
        emu.state.patch("g1", {"delta_interval_ms": 40, "output_tokens": 25})  # about a second
        body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": True,
                "messages": [{"role": "user", "content": "count slowly"}]}
        async with httpx.AsyncClient(base_url=runtime.base_url, timeout=30) as http:
            async with http.stream("POST", "/v1/messages", json=body, headers={"x-api-key": key}) as r:
                request_id = r.headers["x-jiuliu-request-id"]
                chunks = r.aiter_bytes()
                received = await chunks.__anext__()
                closing = asyncio.ensure_future(runtime.close())  # SIGTERM's path, mid-stream
                async for chunk in chunks:
                    received += chunk
        await closing
        assert received.rstrip().endswith(b'data: {"type":"message_stop"}')
        row = await checker.db.usage.find_one({"request_id": request_id})
        assert row is not None and row["tokens"]["output"] == 25 and row["outcome"] == "ok"
        async with httpx.AsyncClient(timeout=5) as http:
            try:
                await http.get(runtime.base_url + "/healthz")
                refused = False
            except httpx.ConnectError:
                refused = True
        assert refused
    finally:
        await runtime.close()
        await emu.stop()
        await checker.drop()
        await checker.close()
