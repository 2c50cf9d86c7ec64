"""The SSE scanner: events split anywhere across chunks come out whole and byte-identical."""

from __future__ import annotations

import orjson

from server.relay.sse import SseScanner

EVENTS = [b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3}}}\n\n',
          b"event: ping\ndata: {}\n\n",
          b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"hi"}}\n\n',
          b'event: message_stop\ndata: {"type":"message_stop"}\n\n']


def test_every_split_point_gives_the_same_events():
    stream = b"".join(EVENTS)
    for cut in range(len(stream) + 1):
        scanner = SseScanner()
        out = scanner.feed(stream[:cut]) + scanner.feed(stream[cut:])
        assert [raw for _, raw, _ in out] == EVENTS and scanner.rest() == b""
        assert [name for name, _, _ in out] == [b"message_start", b"ping", b"content_block_delta", b"message_stop"]
        assert out[0][2]["message"]["usage"]["input_tokens"] == 3  # usage-bearing events are parsed
        # Content deltas are parsed too (a cut stream's estimate counts their text); the rest
        # (ping, block starts and stops) passes opaque.
        assert out[2][2]["delta"]["text"] == "hi" and out[1][2] is None


def test_crlf_boundaries_and_a_large_chunk():
    crlf = [e.replace(b"\n", b"\r\n") for e in EVENTS]
    assert [raw for _, raw, _ in SseScanner().feed(b"".join(crlf))] == crlf
    many = [b"event: content_block_delta\ndata: " + orjson.dumps({"i": i}) + b"\n\n" for i in range(5000)]
    scanner = SseScanner()
    assert len(scanner.feed(b"".join(many) + b"event: partial")) == 5000 and scanner.rest() == b"event: partial"
