"""Security headers of the dashboard and its API.

The dashboard page gets a strict Content-Security-Policy: scripts only from this origin plus
the one inline script it has, its import map, allowed by the SHA-256 of its exact text. The hash
is computed from ``static_spa/index.html`` when first needed (the lead restamps versions into
that map, so a hash written down by hand would go stale). No inline event handlers, no
``eval``, no other origin can run code, and no site may frame the dashboard (clickjacking).

Why the session token stays in ``localStorage`` (and not in an HttpOnly cookie): the API is a
Bearer API used by scripts and ``curl`` as much as by the page; a cookie would make every
state-changing route CSRF-able and need CSRF tokens and SameSite care on all of them, while an
attacker who can run script in the page (the only way to read ``localStorage``) can act as the
user through the page either way. So the defence is not running foreign script at all: this
CSP, a dashboard that builds the DOM without ``innerHTML`` (every hostile string renders as
text, tested), short sessions (``session_ttl``) and logout that ends every session.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path
from typing import Protocol

_IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)

# JSON answers are data, never documents: nothing may load or frame them.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


class _Headers(Protocol):
    def set_header(self, name: str, value: str) -> None: ...


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions for the page's inline import map(s)."""
    return ["'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
            for m in _IMPORT_MAP.findall(html)]


@functools.lru_cache(maxsize=4)
def page_csp(index_file: str, mtime_ns: int) -> str:
    """The dashboard's policy for this version of ``index.html``."""
    del mtime_ns  # part of the cache key only: a restamped file gets a new hash
    hashes = " ".join(inline_script_hashes(Path(index_file).read_text(encoding="utf-8")))
    return ("default-src 'self'; "
            f"script-src 'self' {hashes}; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csp_for(index_file: Path) -> str:
    return page_csp(str(index_file), index_file.stat().st_mtime_ns)


def set_common(handler: _Headers) -> None:
    """Headers every dashboard, API and metrics answer carries."""
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Referrer-Policy", "no-referrer")


def set_api(handler: _Headers) -> None:
    """JSON API answers: private to the user, often carrying tokens or keys: never stored."""
    set_common(handler)
    handler.set_header("Content-Security-Policy", API_CSP)
    handler.set_header("Cache-Control", "no-store")
