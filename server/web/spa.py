"""Serves the dashboard from ``static_spa/``: real files as they are (cache-busted by a
version query), every other non-API path falls back to ``index.html`` for client routes."""

from __future__ import annotations

from pathlib import Path

import tornado.web

from server.web.security import csp_for, set_common
from server.web.unknown import finish_unknown

SPA_DIR = Path(__file__).resolve().parent.parent.parent / "static_spa"


class SpaHandler(tornado.web.StaticFileHandler):
    """Static files with an ``index.html`` fallback for client-side routes; any other method is
    a client posting to a path the relay does not serve (e.g. a base URL missing a segment), which
    gets a JSON 404 in its protocol's envelope instead of an HTML 405."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def prepare(self) -> None:
        if self.request.method not in ("GET", "HEAD"):
            finish_unknown(self)

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        set_common(self)
        self.set_header("Content-Security-Policy", csp_for(SPA_DIR / "index.html"))

    async def get(self, path: str, include_body: bool = True) -> None:
        full = Path(self.root) / path
        if not path or not full.is_file():
            path = "index.html"
        await super().get(path, include_body)

    def set_extra_headers(self, path: str) -> None:
        if path == "index.html":
            # index.html names its assets with a version query; it must itself be fresh.
            self.set_header("Cache-Control", "no-cache")
        elif self.get_query_argument("v", None):
            self.set_header("Cache-Control", "public, max-age=31536000, immutable")

    @classmethod
    def get_cache_time(cls, path: str, modified, mime_type: str) -> int:
        return 0


def spa_handlers() -> list:
    """The catch-all route; it must come last in the route table."""
    return [(r"/(.*)", SpaHandler, {"path": str(SPA_DIR), "default_filename": "index.html"})]
