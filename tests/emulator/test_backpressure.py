"""F12: the emulator honours back-pressure. A client that does not read a long answer holds
one chunk of it in the emulator's transport, not the whole answer (four such streams took the
demo's process to 6.8 GB)."""

from __future__ import annotations

import asyncio
import socket

import orjson

from tests.emulator.helpers import KEY_A

BODY = {"model": "claude-sonnet-4-5", "max_tokens": 200_000, "stream": True,
        "messages": [{"role": "user", "content": "a long story"}]}


async def _unread(emu) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    host, port = emu.base_url.removeprefix("http://").split(":")
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    body = orjson.dumps(BODY)
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: emu\r\nContent-Type: application/json\r\n"
                 b"x-api-key: %b\r\nanthropic-version: 2023-06-01\r\nx-emulator-output-tokens: 60000\r\n"
                 b"Content-Length: %d\r\n\r\n%b" % (KEY_A.encode(), len(body), body))
    await writer.drain()
    return reader, writer


async def test_four_unread_long_streams_queue_one_chunk_each(emu):
    streams = [await _unread(emu) for _ in range(4)]
    try:
        for reader, _ in streams:
            assert (await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)).startswith(b"HTTP/1.1 200")
        queued = sum(c.transport.get_write_buffer_size() for c in emu.server.connections
                     if c.transport is not None)
        # The answers are ~8 MB each; what waits for the readers is a chunk or two apiece.
        assert queued < 4 * 256 * 1024, queued
    finally:
        for _, writer in streams:
            writer.close()
