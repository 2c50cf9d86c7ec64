"""Exact string matches that nx-27017 cannot mistake for date comparisons.

Why: nx-27017 0.8.1 translates queries through neosqlite, whose
``sql_translator_unified.translate_operator`` treats any string value that *starts* like a date
(``neosqlite.collection.datetime_utils.is_datetime_value``: at least 10 characters, a leading
digit, and a prefix matching ``\\d{4}-\\d{2}-\\d{2}``, ``\\d{2}/\\d{2}/\\d{4}``, ``\\d{4}/\\d{2}/\\d{2}``
or ``\\d{2}-\\d{2}-\\d{4}``) as a datetime and compiles ``field = value`` (plain or ``$eq``) to
``datetime(field) = datetime(?)``. SQLite's ``datetime('2024-01-15@corp.com')`` is NULL, so such a
value never matches (a user registered as ``2024-01-15@corp.com`` could never log in), and two
different strings naming the same instant (``2024-01-15T10:00:00Z``, ``2024-01-15 10:00:00``)
match each other. An ``$in`` list takes that path only when *every* element looks like a date, so
an equality written as ``{"$in": [value, NEVER]}`` is compared as text. On MongoDB both forms mean
the same; on nx-27017 the ``$in`` form does not use a single-field index, so it is used only
for values that look like dates (compound indexes still serve their other fields).
"""

from __future__ import annotations

import re
from typing import Any

# A superset of neosqlite's date prefixes (Python's \d and \s are Unicode-aware, as there).
_DATE_PREFIX = re.compile(r"\s*(?:\d{4}[-/]\d{2}[-/]\d{2}|\d{2}[-/]\d{2}[-/]\d{4})")
# Never stored: our text fields refuse control characters.
NEVER = "\x00never"


def looks_like_date(value: Any) -> bool:
    """True for the strings nx-27017 would compare as dates."""
    return isinstance(value, str) and _DATE_PREFIX.match(value) is not None


def exact(value: Any) -> Any:
    """A filter value matching exactly ``value`` on MongoDB and on nx-27017."""
    return {"$in": [value, NEVER]} if looks_like_date(value) else value


def exact_eq(value: Any) -> dict[str, Any]:
    """Like ``exact``, always as an operator document (for filters written with ``$eq``)."""
    return {"$in": [value, NEVER]} if looks_like_date(value) else {"$eq": value}
