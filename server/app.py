"""``make_app(settings, deps)``: the route table and application settings, no I/O."""

from __future__ import annotations

import tornado.web

from admin_api import admin_billing, admin_catalog, admin_system, admin_upstreams, admin_users, user_handlers
from admin_api.admin_auth import check_admin_routes
from admin_api.auth import check_routes
from server.deps import Deps
from server.relay import handlers as relay_handlers
from server.settings import Settings
from server.web import health, metrics
from server.web.base import NotFoundHandler
from server.web.body_limits import LimitedApplication
from server.web.spa import spa_handlers
from server.web.unknown import UnknownEndpointHandler


def make_app(settings: Settings, deps: Deps) -> tornado.web.Application:
    """Assemble every resource's routes; unknown /api and /v1 paths (and
    non-GET requests outside them) get JSON 404s."""
    routes: list = []
    routes += health.default_handlers
    routes += relay_handlers.default_handlers
    routes += check_routes(user_handlers.default_handlers)
    routes += check_routes(admin_upstreams.default_handlers + admin_catalog.default_handlers
                           + admin_users.default_handlers + admin_billing.default_handlers
                           + admin_system.default_handlers)
    routes += metrics.default_handlers
    routes += [
        (r"/api/.*", NotFoundHandler, {"family": "dashboard"}),
        (r"/v1/.*", UnknownEndpointHandler),
    ]
    routes += spa_handlers()
    check_admin_routes(routes)  # refuse to start with an /api/admin method lacking @admin_required
    return LimitedApplication(
        routes,
        deps=deps,
        settings_obj=settings,
        relay_paths=frozenset(route[0] for route in relay_handlers.default_handlers
                              if route[1] is relay_handlers.RelayHandler),
        compress_response=False,
        xheaders=False,
    )
