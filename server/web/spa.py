"""Serves the dashboard from ``static_spa/``: real files as they are (cache-busted by a
version query), every other non-API path falls back to ``index.html`` for client routes."""

from __future__ import annotations

from pathlib import Path

import tornado.web

from server.web.security import csp_for, set_common

SPA_DIR = Path(__file__).resolve().parent.parent.parent / "static_spa"


class SpaHandler(tornado.web.StaticFileHandler):
    """Static files with an ``index.html`` fallback for client-side routes."""

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
