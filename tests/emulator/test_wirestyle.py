"""The emulator's wire quirks on the raw wire (gzip, 103 Early Hints, folded headers, bare-LF
heads), set per account or per request, and its https listener."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
import zlib

import pytest
import trustme

from emulator import EmulatorAccount, KnobError, start_emulator

BODY = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 16,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()


async def raw_call(port: int, extra: str = "", ssl_ctx: ssl.SSLContext | None = None) -> bytes:
    """One HTTP/1.0-style exchange (Connection: close), every byte the emulator sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl_ctx,
                                                   server_hostname="localhost" if ssl_ctx else None)
    writer.write(f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k1\r\nContent-Type: application/json\r\n"
                 f"Connection: close\r\n{extra}Content-Length: {len(BODY)}\r\n\r\n".encode() + BODY)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


@pytest.fixture
async def emu():
    server = await start_emulator([EmulatorAccount(api_key="k1")])
    yield server
    await server.stop()


async def test_gzip_early_hints_and_folded_headers_on_the_wire(emu):
    raw = await raw_call(emu.port, "x-emulator-wire: early-hints,gzip,folded-headers\r\n")
    assert raw.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: ")
    final = raw[raw.index(b"\r\n\r\n") + 4:]
    head, body = final.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nContent-Encoding: gzip\r\n" in head + b"\r\n"
    assert b"\r\nX-Folded: first part\r\n   continued" in head
    assert json.loads(gzip.decompress(body))["type"] == "message"


async def test_bare_lf_head_and_the_account_knob(emu):
    emu.state.patch("k1", {"wire": "bare-lf"})
    raw = await raw_call(emu.port)
    head, _, body = raw.partition(b"\n\n")
    assert b"\r" not in head and head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["type"] == "message"
    raw = await raw_call(emu.port, "x-emulator-wire: none\r\n")  # the header overrides the knob
    assert raw.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 200")
    with pytest.raises(KnobError):
        emu.state.patch("k1", {"wire": "brotli-please"})


async def test_gzip_stream_is_flushed_event_by_event(emu):
    body = json.dumps({**json.loads(BODY), "stream": True}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
    # Paced (a delta interval): the stream goes out chunk by chunk, each gzip-flushed.
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k1\r\nx-emulator-wire: gzip\r\n"
                 b"x-emulator-delta-interval-ms: 1\r\n"
                 b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    data = await reader.read()
    writer.close()
    head, chunked = data.split(b"\r\n\r\n", 1)
    assert b"Content-Encoding: gzip" in head and b"Transfer-Encoding: chunked" in head
    chunks, rest = [], chunked
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2:]
    assert len(chunks) > 3
    # Each chunk decodes on its own to whole events (sync flush): nothing waits for the end.
    decoder = zlib.decompressobj(31)
    first = decoder.decompress(chunks[0]).decode()
    assert first.startswith("event: message_start") and first.endswith("\n\n")
    text = first + "".join(decoder.decompress(c).decode() for c in chunks[1:])
    assert gzip.decompress(b"".join(chunks)).decode() == text
    assert text.startswith("event: message_start") and "event: message_stop" in text


async def test_https_listener():
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    emu = await start_emulator([EmulatorAccount(api_key="k1")], ssl=server_ctx)
    try:
        assert emu.base_url.startswith("https://")
        raw = await raw_call(emu.port, ssl_ctx=client_ctx)
        assert raw.startswith(b"HTTP/1.1 200 ") and b'"type":"message"' in raw
    finally:
        await emu.stop()


async def test_cli_serves_https_with_a_certificate(tmp_path):
    """``jiuliu emulator --tls-cert`` (the key in the same PEM): an https upstream for manual tests."""
    import socket
    import sys

    ca = trustme.CA()
    pem = tmp_path / "emu.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from server.cli import main; raise SystemExit(main())",
        "emulator", "--port", str(port), "--tls-cert", str(pem),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            while b"upstream emulator on https://" not in (line := await proc.stdout.readline()):
                assert line, "the emulator exited"
        raw = await raw_call(port, ssl_ctx=client_ctx)
        assert raw.startswith(b"HTTP/1.1 401 ")  # https works; k1 is not one of the CLI's accounts
    finally:
        proc.terminate()
        await proc.wait()
