"""HTTP/1.x message grammar for the emulator's server (``wire.py``): request heads, bodies
(Content-Length or chunked) and the response status line and Date, with the limits and the
strictness Tornado had, so malformed input is refused the same way (a bare 400).
"""

from __future__ import annotations

import re
import time
from email.utils import formatdate
from http.client import responses as _REASONS
from typing import Any

MAX_HEADER_SIZE = 65536  # Tornado's defaults
MAX_BODY_SIZE = 100 * 1024 * 1024
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 (Continue)\r\n\r\n"

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rf"({_TOKEN}) ([\x21-\x7e\x80-\xff]+) (HTTP/[0-9]\.[0-9])")
# One header line: a token name, a colon, a value without control characters (trimmed); anchored
# at line starts, so every line that is not a valid field is missed and counted as malformed.
_FIELDS = re.compile(rf"^({_TOKEN}):[ \t]*([^\x00-\x20\x7f](?:[^\x00-\x08\x0a-\x1f\x7f]*"
                     rf"[^\x00-\x20\x7f])?)?[ \t]*\r?\n", re.M)
_HEX = re.compile(rb"[0-9a-fA-F]+")
_COMMON_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


class HttpError(Exception):
    """The request cannot be parsed: answered with a bare 400, then the connection closes."""


class Headers(dict):
    """Request headers keyed by lower-case name, looked up case-insensitively (like Tornado's
    ``HTTPHeaders``); repeated headers are joined with ","."""

    __slots__ = ()

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


class Request:
    """One parsed request; ``path`` and ``query`` split the target at "?" as Tornado did."""

    __slots__ = ("method", "uri", "path", "query", "version", "headers", "body")

    def __init__(self, method: str, uri: str, version: str, headers: Headers, body: bytes) -> None:
        self.method, self.uri, self.version, self.headers, self.body = method, uri, version, headers, body
        self.path, _, self.query = uri.partition("?")


_date_cache: list[Any] = [0, ""]


def http_date() -> str:
    """The ``Date`` header value, formatted once per second."""
    now = int(time.time())
    if now != _date_cache[0]:
        _date_cache[0], _date_cache[1] = now, formatdate(now, usegmt=True)
    return _date_cache[1]


_status_lines: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    line = _status_lines.get(status)
    if line is None:
        line = _status_lines[status] = f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n".encode()
    return line


def head_end(buf: bytes | bytearray) -> tuple[int, int] | None:
    """Where the head ends, as Tornado's ``\\r?\\n\\r?\\n``: (where the blank line's terminator
    starts, the offset past it); None if it has not arrived yet. Two finds beat the regex."""
    crlf, lf = buf.find(b"\n\r\n"), buf.find(b"\n\n")
    if crlf < 0 and lf < 0:
        return None
    if lf < 0 or 0 <= crlf < lf:
        at, end = crlf, crlf + 3
    else:
        at, end = lf, lf + 2
    return (at - 1 if at > 0 and buf[at - 1] == 13 else at), end


def request_line(line: str) -> tuple[str, str, str]:
    """Method, target and version of a request line (its grammar as Tornado checks it)."""
    parts = line.split(" ")
    if (len(parts) == 3 and parts[0] in _COMMON_METHODS and parts[2] in ("HTTP/1.1", "HTTP/1.0")
            and parts[1] and parts[1].isprintable()):
        return parts[0], parts[1], parts[2]  # the usual line: a subset of the grammar, no regex
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        raise HttpError("Malformed HTTP request line")
    method, uri, version = match.groups()
    if not version.startswith("HTTP/1"):
        raise HttpError(f"Unexpected HTTP version {version!r}")
    return method, uri, version


def parse_head(data: bytes) -> tuple[str, str, str, Headers]:
    """Method, target, version and headers of a request head (without its terminating blank line)."""
    text = data.decode("latin-1")
    eol = text.find("\n")
    method, uri, version = request_line(text[:eol].rstrip("\r") if eol >= 0 else text)
    raw: dict[str, str] = {}
    if eol >= 0:
        block = text[eol + 1:] + "\n"
        fields = _FIELDS.findall(block)
        if len(fields) != block.count("\n"):
            raise HttpError("Malformed header line")
        for name, value in fields:
            name = name.lower()
            seen = raw.get(name)
            raw[name] = value if seen is None else seen + "," + value
    headers = Headers(raw)
    if version == "HTTP/1.1":
        host = dict.get(headers, "host")
        if host is None:
            raise HttpError("Missing Host header")
        if "," in host:
            raise HttpError("Multiple Host headers")
    return method, uri, version, headers


def body_framing(headers: Headers) -> int | None:
    """The Content-Length (0 if none), or None for a chunked body."""
    length = dict.get(headers, "content-length")
    chunked = dict.get(headers, "transfer-encoding")
    if chunked is not None:
        if length is not None:
            raise HttpError("Message with both Transfer-Encoding and Content-Length")
        if chunked.lower() != "chunked":
            raise HttpError(f"Unsupported Transfer-Encoding {chunked}")
        return None
    if length is None:
        return 0
    if "," in length:
        pieces = re.split(r",[ \t]*", length)
        if any(p != pieces[0] for p in pieces):
            raise HttpError(f"Multiple unequal Content-Lengths: {length!r}")
        length = pieces[0]
    if not (length.isascii() and length.isdigit()):
        raise HttpError(f"Only integer Content-Length is allowed: {length}")
    if int(length) > MAX_BODY_SIZE:
        raise HttpError("Content-Length too long")
    return int(length)


def chunked_body(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    """A chunked body starting at ``pos`` and the offset just past it; None while incomplete."""
    parts: list[bytes] = []
    total = 0
    while True:
        eol = buf.find(b"\r\n", pos, pos + 64)  # no chunk extensions, as in Tornado
        if eol < 0:
            if len(buf) - pos >= 64:
                raise HttpError("invalid chunk size")
            return None
        size_text = bytes(buf[pos:eol])
        if _HEX.fullmatch(size_text) is None:
            raise HttpError("invalid chunk size")
        size = int(size_text, 16)
        start = eol + 2
        if size == 0:
            if len(buf) < start + 2:
                return None
            if buf[start:start + 2] != b"\r\n":
                raise HttpError("improperly terminated chunked request")
            return b"".join(parts), start + 2
        total += size
        if total > MAX_BODY_SIZE:
            raise HttpError("chunked body too large")
        if len(buf) < start + size + 2:
            return None
        if buf[start + size:start + size + 2] != b"\r\n":
            raise HttpError("improperly terminated chunk")
        parts.append(bytes(buf[start:start + size]))
        pos = start + size + 2
