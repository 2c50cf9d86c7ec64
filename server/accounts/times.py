"""Timestamps: UTC datetimes in storage, ISO 8601 strings in responses, client times parsed.

nx-27017 0.8.1 stores a datetime written by an update operator (``$set``, ``$max``) as a string
such as ``"2026-11-25 12:12:02.339000"``; only inserted datetimes stay BSON dates. ``as_utc``
reads both, so every reader of a stored time goes through it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.errors import BadRequest
from server.i18n import t

UTC = dt.timezone.utc
# Client times outside these bounds are refused (400 naming the field): before the epoch nothing
# happened here, and near year 1 or 9999 a time-zone shift or a day's arithmetic overflows.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=UTC)
LATEST = dt.datetime(9999, 12, 30, tzinfo=UTC)


def from_epoch(seconds: float) -> dt.datetime:
    """An epoch time (``Clock.now()``) as an aware UTC datetime, at BSON's millisecond precision."""
    value = dt.datetime.fromtimestamp(seconds, UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def as_utc(value: Any) -> dt.datetime | None:
    """A stored time (datetime, or the string form nx-27017 writes) as an aware UTC datetime."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):  # epoch seconds (e.g. last_used_at)
        return from_epoch(value)
    if isinstance(value, dt.datetime):
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith('{"$date":'):
            text = text[len('{"$date":'):].strip(' "}')
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return as_utc(parsed)
    return None


def iso(value: Any) -> str | None:
    """A stored time as ISO 8601 UTC with a ``Z`` suffix (None stays None)."""
    when = as_utc(value)
    if when is None:
        return None
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_client_time(value: Any, field: str) -> dt.datetime | None:
    """A time sent by a client: ISO 8601 (naive = UTC), a date, or epoch seconds; None allowed."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadRequest(t("{field} 不是有效的时间", field=field), field=field)
    if isinstance(value, (int, float)):
        try:
            when = from_epoch(float(value))
        except (OverflowError, OSError, ValueError):
            raise BadRequest(t("{field} 不是有效的时间", field=field), field=field) from None
        if not EARLIEST <= when <= LATEST:
            raise BadRequest(t("{field} 超出有效范围(1970-01-01 至 9999-12-30)", field=field), field=field)
        return when
    if not isinstance(value, str) or len(value) > 64:
        raise BadRequest(t("{field} 必须是 ISO 8601 时间字符串", field=field), field=field)
    text = value.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return parse_client_time(float(text), field)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadRequest(t("{field} 必须是 ISO 8601 时间字符串,例如 2025-01-31T08:00:00Z", field=field),
                         field=field) from None
    utc = as_utc(parsed)
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise BadRequest(t("{field} 超出有效范围(1970-01-01 至 9999-12-30)", field=field), field=field)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
