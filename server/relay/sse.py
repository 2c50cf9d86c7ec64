"""Incremental SSE scanning for metering and the commit point, without re-serialising.

``SseScanner.feed(chunk)`` returns complete events as ``(name, raw_bytes, data)``; the raw bytes
are passed to the client unchanged. Only usage-bearing and error events are JSON-decoded."""

from __future__ import annotations

from typing import Any

import orjson

from server.relay.metering import METERED_EVENTS

# Events parsed as JSON: the ones that carry usage or errors, and the content deltas a cut
# stream's estimate counts (metering.METERED_EVENTS). Everything else passes opaque.
PARSED_EVENTS = frozenset({
    b"message_start", b"message_delta", b"error",
    b"response.created", b"response.in_progress",
    b"response.completed", b"response.failed", b"response.incomplete", b"response.error",
}) | METERED_EVENTS
# Events that may precede the first content event (the relay may still fail over after them).
PREAMBLE_EVENTS = frozenset({b"message_start", b"ping", b"response.created", b"response.in_progress"})
ERROR_EVENTS = frozenset({b"error", b"response.failed", b"response.error"})


class SseScanner:
    """Splits a byte stream into SSE events (``\\n\\n`` or ``\\r\\n\\r\\n`` separated)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[bytes, bytes, Any]]:
        # One pass with a moving offset and one slice at the end: re-slicing the buffer per
        # event would copy a large chunk once for every event in it.
        buffer = self._buffer + chunk if self._buffer else chunk
        events, start, crlf = [], 0, -2  # -2: not searched yet; -1: none left in this buffer
        while True:
            lf = buffer.find(b"\n\n", start)
            if crlf == -2 or 0 <= crlf < start:
                crlf = buffer.find(b"\r\n\r\n", start)
            if crlf >= 0 and (lf < 0 or crlf < lf):
                end = crlf + 4
            elif lf >= 0:
                end = lf + 2
            else:
                break
            events.append(_parse(buffer[start:end]))
            start = end
        self._buffer = buffer[start:]
        return events

    def rest(self) -> bytes:
        """Bytes of an unfinished event (at end of stream)."""
        return self._buffer


def _parse(raw: bytes) -> tuple[bytes, bytes, Any]:
    name = b""
    data_lines = []
    for line in raw.splitlines():
        if line.startswith(b"event:"):
            name = line[6:].strip()
        elif line.startswith(b"data:"):
            data_lines.append(line[5:].lstrip(b" "))
    data: Any = None
    if not name and data_lines:
        # Some servers omit "event:"; the JSON's own "type" names it.
        try:
            data = orjson.loads(b"\n".join(data_lines))
            name = str(data.get("type", "")).encode() if isinstance(data, dict) else b""
        except orjson.JSONDecodeError:
            data = None
    elif name in PARSED_EVENTS and data_lines:
        try:
            data = orjson.loads(b"\n".join(data_lines))
        except orjson.JSONDecodeError:
            data = None
    return name, raw, data
