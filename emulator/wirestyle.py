"""Wire-level quirks real upstreams show, for the relay's transport tests.

An account's ``wire`` knob (or the ``x-emulator-wire`` request header): a comma list of

- ``gzip``: the answer is gzip-encoded (``Content-Encoding: gzip``) whatever the request's
  ``accept-encoding`` said; streams are compressed chunk by chunk (sync-flushed, so every event
  still arrives when it is sent);
- ``early-hints``: a ``103 Early Hints`` interim answer is written at once, before the real one;
- ``folded-headers``: one response header is continued on a second line (obs-fold, RFC 9112 §5.2);
- ``bare-lf``: the response head's lines end in LF alone.

The HTTP/1.1 server applies them when it writes the head and the body (``emulator.wire``)."""

from __future__ import annotations

import zlib
from typing import Mapping

from emulator.accounts import KnobError

STYLES = frozenset({"gzip", "early-hints", "folded-headers", "bare-lf"})
EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </v1/style.css>; rel=preload; as=style\r\n\r\n"


def parse_wire(value: str) -> frozenset[str]:
    """The styles of a knob or header value; ``KnobError`` names an unknown one."""
    names = frozenset(n.strip() for n in (value or "").split(",") if n.strip() and n.strip() != "none")
    unknown = names - STYLES
    if unknown:
        raise KnobError(f"unknown wire style {sorted(unknown)[0]!r}; known: {', '.join(sorted(STYLES))}")
    return names


def request_wire(account_wire: str, headers: Mapping[str, str]) -> frozenset[str]:
    """The styles in force for one request: the header's if sent, else the account's."""
    override = headers.get("x-emulator-wire")
    return parse_wire(override if override is not None else account_wire)


class WireStyle:
    """Applied to one response by the connection writing it."""

    __slots__ = ("names", "_gzip")

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self._gzip: "zlib._Compress | None" = None

    def head(self, status_line: bytes, headers: str) -> bytes:
        """The head as written: extra encoding header, a folded line, bare LFs."""
        if "gzip" in self.names:
            headers += "Content-Encoding: gzip\r\n"
        if "folded-headers" in self.names:
            headers += "X-Folded: first part\r\n   continued on a second line\r\n"
        head = status_line + headers.encode("latin-1")
        return head.replace(b"\r\n", b"\n") if "bare-lf" in self.names else head

    def blank(self) -> bytes:
        return b"\n" if "bare-lf" in self.names else b"\r\n"

    def whole(self, body: bytes) -> bytes:
        return gzip_bytes(body) if "gzip" in self.names else body

    def chunk(self, data: bytes, final: bool = False) -> bytes:
        if "gzip" not in self.names:
            return data
        if self._gzip is None:
            self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31)
        out = self._gzip.compress(data) + self._gzip.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
        return out


def gzip_bytes(body: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()
