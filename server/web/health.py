"""Liveness: ``GET /healthz`` (process up and database reachable) and Claude Code's
``HEAD /api/hello`` probe."""

from __future__ import annotations

from server.web.base import BaseHandler


class HealthHandler(BaseHandler):
    """200 when the database answers, 503 otherwise; used by Docker's HEALTHCHECK."""

    api_db_deadline = False  # one ping, bounded by db_timeout_relay: a probe answers fast

    async def get(self) -> None:
        db_ok = await self.deps.storage.ping()
        self.write_json({"status": "ok" if db_ok else "degraded", "database": db_ok},
                        status=200 if db_ok else 503)


class HelloHandler(BaseHandler):
    """Claude Code sends ``HEAD /api/hello`` to the base URL before its first call."""

    def head(self) -> None:
        self.set_status(200)
        self.finish()

    def get(self) -> None:
        self.write_json({"status": "ok"})


default_handlers = [
    (r"/healthz", HealthHandler),
    (r"/api/hello", HelloHandler),
]
