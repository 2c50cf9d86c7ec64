"""F2: one user cannot take every upstream slot. Accounts capped at 2 concurrent requests each;
one user opens 4 streams and never reads them; other users keep being served. A client that
stops reading is cut after the write timeout, its upstream closed and the request billed as an
abort. Real HTTP, raw client sockets with a small receive buffer."""

from __future__ import annotations

import asyncio
import socket

import pytest_asyncio

from tests.relay.support import make_key, make_user
from tests.support import RelayUnderTest

STREAM = {"model": "claude-sonnet-4-5", "max_tokens": 200_000, "stream": True,
          "messages": [{"role": "user", "content": "write a long story"}]}
SMALL = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


@pytest_asyncio.fixture(scope="module")
async def relay(storage):
    server = await RelayUnderTest.start(storage, client_write_timeout=1.0)
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def capped(relay, pool):
    """Both claude accounts capped at 2 concurrent requests (the F2 set-up)."""
    for account in pool["claude"]:
        await relay.deps.storage.db.upstreams.update_one({"_id": account["_id"]}, {"$set": {"max_concurrency": 2}})
    await relay.deps.pools.reload()
    yield
    for account in pool["claude"]:
        await relay.deps.storage.db.upstreams.update_one({"_id": account["_id"]}, {"$set": {"max_concurrency": 0}})
    await relay.deps.pools.reload()


async def _unread_stream(relay, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Send a streaming request on a socket whose owner reads (almost) nothing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", relay.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    import orjson
    body = orjson.dumps(STREAM)
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
                 b"x-api-key: %b\r\nContent-Length: %d\r\n\r\n%b" % (key.encode(), len(body), body))
    await writer.drain()
    return reader, writer


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Status and headers only (the stream's body stays unread)."""
    status = int((await reader.readuntil(b"\r\n")).split()[1])
    headers = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def test_one_user_with_four_unread_streams_leaves_room_for_others(relay, pool, emu, capped):
    for name in ("a1", "a2"):  # long answers, paced: they hold their slots for the whole test
        emu.state.patch(name, {"output_tokens": 5000, "delta_interval_ms": 10})
    hog = await make_user(relay.deps.storage)
    hog_key = await make_key(relay.deps.storage, hog["_id"], "claude")
    streams = [await _unread_stream(relay, hog_key) for _ in range(4)]
    try:
        heads = [await asyncio.wait_for(_head(reader), 20) for reader, _ in streams]
        statuses = sorted(status for status, _ in heads)
        assert statuses == [200, 200, 429, 429]  # half the group's capacity of 4
        refused = next(headers for status, headers in heads if status == 429)
        assert int(refused["retry-after"]) >= 1
        # Two other users, while the hog's two admitted streams still hold their slots.
        others = [await make_key(relay.deps.storage, (await make_user(relay.deps.storage))["_id"], "claude")
                  for _ in range(2)]
        async with relay.client() as http:
            for _ in range(3):
                answers = await asyncio.gather(*[http.post("/v1/messages", json=SMALL, headers={"x-api-key": k})
                                                 for k in others])
                assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert relay.deps.fairshare.held.get((hog["_id"], "claude")) == 2  # still streaming meanwhile
    finally:
        for _, writer in streams:
            writer.close()


async def test_a_client_that_stops_reading_is_cut_and_billed_as_an_abort(relay, pool, emu):
    for name in ("a1", "a2"):  # one fast, long answer: far more than the socket buffers hold
        emu.state.patch(name, {"output_tokens": 50_000, "delta_interval_ms": 0})
    user = await make_user(relay.deps.storage)
    key = await make_key(relay.deps.storage, user["_id"], "claude")
    reader, writer = await _unread_stream(relay, key)
    try:
        status, headers = await asyncio.wait_for(_head(reader), 20)
        assert status == 200
        record = await relay.usage.wait_recorded(headers["x-jiuliu-request-id"], timeout=30)
    finally:
        writer.close()
    assert record.outcome == "client_abort" and record.usage.output > 0  # billed for what was made
    assert all(a.inflight == 0 for a in relay.deps.pools.group_accounts("claude"))  # upstream let go
    assert relay.deps.fairshare.held.get((user["_id"], "claude")) is None
