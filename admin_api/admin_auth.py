"""The operator API's access check: ``@admin_required`` on every handler method under
``/api/admin``, and ``check_admin_routes``, which ``make_app`` calls so the server refuses to
start if any such method lacks it (a forgotten decorator must not become an open endpoint)."""

from __future__ import annotations

import functools
import re
from typing import Any, Awaitable, Callable, Iterable, TypeVar

import tornado.web

from admin_api.auth import AUTH_MARKER, authenticate_request, mark
from server.accounts.fields import query_int
from server.errors import BadRequest, Forbidden
from server.i18n import t
from server.web.base import BaseHandler

ADMIN_PREFIX = "/api/admin"
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
ADMIN = "admin"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def admin_required(method: F) -> F:
    """Authenticate the dashboard session and require ``role == "admin"`` (401, then 403)."""

    @functools.wraps(method)
    async def wrapper(self: "AdminHandler", *args: Any, **kwargs: Any) -> Any:
        user = await authenticate_request(self)
        if user.get("role") != ADMIN:
            raise Forbidden(t("需要管理员权限"))
        self.admin = user
        return await method(self, *args, **kwargs)

    return mark(wrapper, ADMIN)  # type: ignore[return-value]


def unguarded_methods(routes: Iterable[Any]) -> list[str]:
    """``"pattern METHOD"`` for every handler method under /api/admin without the check."""
    missing = []
    for route in routes:
        pattern, handler = _pattern(route), _handler(route)
        if not pattern.startswith(ADMIN_PREFIX) or handler is None:
            continue
        for name in HTTP_METHODS:
            method = getattr(handler, name, None)
            inherited = method is getattr(tornado.web.RequestHandler, name, None)
            if method is None or inherited:
                continue
            if getattr(method, AUTH_MARKER, None) != ADMIN:
                missing.append(f"{pattern} {name.upper()}")
    return missing


def check_admin_routes(routes: Iterable[Any]) -> list[Any]:
    """The routes unchanged, unless an operator endpoint lacks the admin check (then refuse)."""
    routes = list(routes)
    missing = unguarded_methods(routes)
    if missing:
        raise RuntimeError("operator API methods without @admin_required: " + ", ".join(missing))
    return routes


def _pattern(route: Any) -> str:
    if isinstance(route, tornado.web.URLSpec):
        return route.regex.pattern.rstrip("$")
    return str(route[0])


def _handler(route: Any) -> type | None:
    handler = route.handler_class if isinstance(route, tornado.web.URLSpec) else route[1]
    return handler if isinstance(handler, type) else None


class AdminHandler(BaseHandler):
    """Base of the operator API's handlers: the signed-in admin and small argument readers."""

    admin: dict[str, Any]

    @property
    def admin_id(self) -> str:
        return self.admin["_id"]

    def page_args(self, default_limit: int = 50, max_limit: int = 500) -> tuple[int, int]:
        """(limit, offset) from the query string; garbage is a 400 naming the argument."""
        limit = query_int(self.get_query_argument("limit", None), "limit", default=default_limit,
                          minimum=1, maximum=max_limit)
        offset = query_int(self.get_query_argument("offset", None), "offset", default=0)
        return limit, offset

    def body_or_empty(self) -> dict[str, Any]:
        """The JSON body, or ``{}`` when the request has none (action endpoints)."""
        return self.get_json_body() if self.request.body else {}


def path_id(value: str) -> str:
    """A path segment used as an id; anything odd is a 400 rather than a strange query."""
    if not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,128}", value or ""):
        raise BadRequest(t("无效的 id"), field="id")
    return value
