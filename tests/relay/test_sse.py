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


def _feed_all(stream: bytes, cut: int, **kw) -> tuple[list, bytes]:
    scanner = SseScanner(**kw)
    out = scanner.feed(stream[:cut]) + scanner.feed(stream[cut:])
    return out, scanner.rest()


def test_cr_crlf_lf_and_mixed_line_ends_at_every_split_point():
    names = [b"message_start", b"ping", b"content_block_delta", b"message_stop"]
    for eol in (b"\r", b"\r\n", b"\n"):
        events = [e.replace(b"\n", eol) for e in EVENTS]
        stream = b"".join(events)
        for cut in range(len(stream) + 1):
            out, rest = _feed_all(stream, cut)
            assert b"".join(raw for _, raw, _ in out) == stream and rest == b"", (eol, cut)
            assert [name for name, _, _ in out if name] == names
            assert out[0][2]["message"]["usage"]["input_tokens"] == 3
            if eol != b"\r\n" or not stream[:cut].endswith(b"\r\n\r"):
                assert [raw for _, raw, _ in out] == events  # whole events, one each
    mixed = (b'event: message_start\r\ndata: {"type":"message_start"}\n\r'
             b'event: ping\rdata: {}\r\n\r\nevent: message_stop\ndata: {}\r\r')
    out = SseScanner().feed(mixed)
    assert [n for n, _, _ in out] == [b"message_start", b"ping", b"message_stop"]
    assert b"".join(raw for _, raw, _ in out) == mixed


def test_an_event_ending_in_cr_at_a_chunk_end_goes_at_once():
    scanner = SseScanner()
    out = scanner.feed(b"event: ping\r\ndata: {}\r\n\r")  # the event is over, whatever follows
    assert [raw for _, raw, _ in out] == [b"event: ping\r\ndata: {}\r\n\r"]
    out = scanner.feed(b"\nevent: x")  # the rest of that CRLF is passed on, nameless
    assert out == [(b"", b"\n", None)] and scanner.rest() == b"event: x"


def test_data_only_events_are_named_by_their_type_and_comments_are_unnamed():
    stream = (b': keep-alive\n\n'
              b'data: {"type":"message_start","message":{"usage":{"input_tokens":7}}}\n\n'
              b'data: {"type":"content_block_delta",\ndata: "delta":{"text":"hi"}}\n\n'  # multi-line data
              b'data:{"type":"message_stop"}\n\n')
    out = SseScanner().feed(stream)
    assert [n for n, _, _ in out] == [b"", b"message_start", b"content_block_delta", b"message_stop"]
    assert out[1][2]["message"]["usage"]["input_tokens"] == 7 and out[2][2]["delta"]["text"] == "hi"
    assert b"".join(raw for _, raw, _ in out) == stream  # passed as they came...
    added = SseScanner(add_event_lines=True).feed(stream.replace(b"\n", b"\r"))  # ...or given event lines
    assert added[1][1] == b'event: message_start\r' + out[1][1].replace(b"\n", b"\r")
    assert added[0][1] == b": keep-alive\r\r"  # a comment has no type: unchanged
    named = SseScanner(add_event_lines=True).feed(b"".join(EVENTS))
    assert [raw for _, raw, _ in named] == EVENTS  # well-formed streams: byte for byte
