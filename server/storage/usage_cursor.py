"""The opaque position in a request log: the ``(ts, request_id)`` of a page's last row.

The log is ordered by ``ts`` then ``request_id`` (the row's ``_id``), both descending, so "rows
after this one" is exact even when many rows share a millisecond, and a page costs the same at
any depth (keyset pagination) instead of skipping every row before it. The text is URL-safe
base64 of ``"<epoch milliseconds>.<request_id>"``: clients pass it back unchanged, never parse it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MS = dt.timedelta(milliseconds=1)
# Newest first; request_id (the row's _id) breaks ties, so the order is total, and the compound
# indexes of ``server.storage.db`` hold rows in it (nx-27017 included).
ORDER = [("ts", -1), ("request_id", -1)]
MAX_ID = 200
MAX_TEXT = 400
ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class LogCursor:
    """A row's ``ts`` (millisecond precision, UTC) and ``request_id``."""

    ts: dt.datetime
    id: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> "LogCursor":
        """The cursor just after ``row``."""
        return cls(row["ts"].astimezone(dt.timezone.utc), str(row.get("request_id", row["_id"])))

    def encode(self) -> str:
        millis = (self.ts - EPOCH) // MS
        raw = f"{millis}.{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "LogCursor":
        """Parse a cursor from a client; ``ValueError`` for anything this module did not write."""
        if len(text) > MAX_TEXT or not ALPHABET.fullmatch(text):
            raise ValueError("bad cursor text")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise ValueError("bad cursor encoding") from exc
        millis, sep, row_id = raw.partition(".")
        digits = millis.isascii() and millis.isdigit() and len(millis) <= 15
        if not sep or not digits or not row_id or len(row_id) > MAX_ID:
            raise ValueError("bad cursor content")
        try:
            return cls(EPOCH + int(millis) * MS, row_id)
        except OverflowError as exc:
            raise ValueError("bad cursor time") from exc
