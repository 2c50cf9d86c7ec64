"""Incremental SSE scanning for metering and the commit point, without re-serialising.

``SseScanner.feed(chunk)`` returns complete events as ``(name, raw_bytes, data)``; the raw bytes
are passed to the client unchanged. Parsing follows the SSE spec (WHATWG HTML §9.2): lines end
with LF, CRLF or a bare CR; a blank line ends an event; lines starting with ``:`` are comments;
several ``data:`` lines join with ``\\n``; one space after the colon is dropped. An event without
an ``event:`` line is named by its JSON ``type`` (data-only streams), so metering and the commit
point see the same events either way. Usage-bearing and error events are JSON-decoded; content
passes opaque when it is named by an ``event:`` line.

With ``add_event_lines`` (Anthropic streams: the Anthropic SDKs drop events without one) an
event that had no ``event:`` line is given one, taken from its ``type``; nothing else changes."""

from __future__ import annotations

import re
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
# Unnamed events (comments, keep-alives, blank lines) are held back before the commit point too.
PREAMBLE_EVENTS = frozenset({b"message_start", b"ping", b"response.created", b"response.in_progress", b""})
ERROR_EVENTS = frozenset({b"error", b"response.failed", b"response.error"})

# A line end followed by an empty line: the end of an event. ``\r(?!\n)`` keeps a CRLF from
# being read as CR + LF (two line ends, a blank line).
_EOL = rb"(?:\r\n|\r(?!\n)|\n)"
_BOUNDARY = re.compile(_EOL + _EOL)


class SseScanner:
    """Splits a byte stream into SSE events."""

    def __init__(self, add_event_lines: bool = False) -> None:
        self._buffer = b""
        self._after_cr = False  # the last event ended in a CR at the end of a chunk
        self.add_event_lines = add_event_lines

    def feed(self, chunk: bytes) -> list[tuple[bytes, bytes, Any]]:
        # One pass with a moving offset and one slice at the end: re-slicing the buffer per
        # event would copy a large chunk once for every event in it.
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[tuple[bytes, bytes, Any]] = []
        start = 0
        if self._after_cr and buffer[:1] == b"\n":
            # The last event ended in a CR at a chunk's end; this LF completes that CRLF. It is
            # passed on as a nameless piece so the client still gets every byte.
            events.append((b"", b"\n", None))
            start = 1
        if buffer:
            self._after_cr = False
        if b"\r" not in buffer:  # the common case: LF only, found without a regex
            while (lf := buffer.find(b"\n\n", start)) >= 0:
                events.append(self._parse(buffer[start:lf + 2]))
                start = lf + 2
        else:
            while (match := _BOUNDARY.search(buffer, start)) is not None:
                # A CR at the very end may be the first half of a CRLF; the event has ended
                # either way (a blank line follows its last line), so it goes now, not later.
                end = match.end()
                events.append(self._parse(buffer[start:end]))
                start = end
            self._after_cr = start == len(buffer) and buffer[-1:] == b"\r"
        self._buffer = buffer[start:]
        return events

    def rest(self) -> bytes:
        """Bytes of an unfinished event (at end of stream)."""
        return self._buffer

    def _parse(self, raw: bytes) -> tuple[bytes, bytes, Any]:
        name, named, data_lines = b"", False, []
        for line in raw.splitlines():  # CR, LF and CRLF alike; comments (":…") match nothing
            if line.startswith(b"data:"):
                data_lines.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                name, named = (line[7:] if line[6:7] == b" " else line[6:]), True
            elif line == b"data":  # a field without a colon has an empty value
                data_lines.append(b"")
        data: Any = None
        if data_lines and (not named or name in PARSED_EVENTS):
            try:
                data = orjson.loads(b"\n".join(data_lines))
            except orjson.JSONDecodeError:
                data = None
            if not named and isinstance(data, dict) and isinstance(data.get("type"), str):
                # Some servers omit "event:"; the JSON's own "type" names it.
                name = data["type"].encode()
                if self.add_event_lines and name:
                    raw = b"event: " + name + _line_end(raw) + raw
        return name, raw, data


def _line_end(raw: bytes) -> bytes:
    """The line end this event uses (so an added line matches its neighbours)."""
    i = raw.find(b"\r")
    j = raw.find(b"\n")
    if i < 0 or (0 <= j < i):
        return b"\n"
    return b"\r\n" if raw[i + 1:i + 2] == b"\n" else b"\r"
