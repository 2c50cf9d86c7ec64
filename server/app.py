"""``make_app(settings, deps)``: the route table and application settings, no I/O."""

from __future__ import annotations

import tornado.web

from server.deps import Deps
from server.settings import Settings
from server.web import health
from server.web.base import NotFoundHandler
from server.web.spa import spa_handlers


def make_app(settings: Settings, deps: Deps) -> tornado.web.Application:
    """Assemble every resource's routes; unknown /api and /v1 paths get JSON 404s."""
    routes: list = []
    routes += health.default_handlers
    routes += [
        (r"/api/.*", NotFoundHandler, {"family": "dashboard"}),
        (r"/v1/.*", NotFoundHandler, {"family": "anthropic"}),
    ]
    routes += spa_handlers()
    return tornado.web.Application(
        routes,
        deps=deps,
        settings_obj=settings,
        compress_response=False,
        xheaders=False,
    )
