"""Authentication of dashboard handlers.

Every HTTP verb of a dashboard handler carries exactly one marker: ``@authenticated``
(a valid ``Authorization: Bearer <session JWT>`` of an active user whose ``token_version``
matches; the user is then ``self.current_user``), ``@allow_unauthenticated`` (public, by
decision), or another marker made with ``mark`` (the operator API's ``@admin_required``).
``check_routes`` refuses to build the app when a verb has none, so a forgotten decorator
fails at start-up instead of exposing data.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Awaitable, Callable, Iterable, TypeVar

import tornado.web

from server.accounts.sessions import bearer_token

AUTH_MARKER = "__dashboard_auth__"
F = TypeVar("F", bound=Callable[..., Any])


def mark(method: F, kind: str) -> F:
    """Record how ``method`` is authenticated (read by ``check_routes``)."""
    setattr(method, AUTH_MARKER, kind)
    return method


async def authenticate_request(handler: tornado.web.RequestHandler) -> dict[str, Any]:
    """Resolve the request's Bearer session token to its user and set ``current_user``."""
    sessions = handler.settings["deps"].sessions
    if sessions is None:
        raise RuntimeError("sessions are not wired: build_deps did not create them")
    user = await sessions.authenticate(bearer_token(handler.request.headers.get("Authorization")))
    handler.current_user = user
    return user


def authenticated(method: Callable[..., Awaitable[None] | None]) -> Callable[..., Awaitable[None]]:
    """The verb requires a logged-in, active user: 401 without a valid session, 403 if disabled."""

    @functools.wraps(method)
    async def wrapper(self: tornado.web.RequestHandler, *args: Any, **kwargs: Any) -> None:
        await authenticate_request(self)
        result = method(self, *args, **kwargs)
        if inspect.isawaitable(result):
            await result

    return mark(wrapper, "authenticated")


def allow_unauthenticated(method: F) -> F:
    """The verb is public on purpose (registration, login)."""
    return mark(method, "public")


def check_routes(routes: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The routes unchanged, if every verb their handlers implement carries an auth marker."""
    routes = list(routes)
    for route in routes:
        handler = route[1]
        for verb in tornado.web.RequestHandler.SUPPORTED_METHODS:
            method = getattr(handler, verb.lower(), None)
            if method is None or method is getattr(tornado.web.RequestHandler, verb.lower()):
                continue
            if not getattr(method, AUTH_MARKER, None):
                raise RuntimeError(f"{handler.__name__}.{verb.lower()} has no authentication marker: "
                                   "decorate it with @authenticated or @allow_unauthenticated")
    return routes
