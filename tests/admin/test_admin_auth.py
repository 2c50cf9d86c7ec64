"""Every operator route refuses non-admins (403) and anonymous callers (401), and the app
refuses to start when an /api/admin handler method lacks ``@admin_required``."""

from __future__ import annotations

import re
from typing import cast

import pytest
import tornado.web

from admin_api.admin_auth import AdminHandler, admin_required, check_admin_routes, unguarded_methods
from admin_api.auth import allow_unauthenticated
from server.app import make_app
from server.deps import Deps
from server.settings import Settings
from tests.admin.support import Api, error, signed_in
from tests.support import TEST_SETTINGS

METHODS = ("get", "post", "put", "patch", "delete")


def _concrete(pattern: str) -> str:
    """A path matching ``pattern``: each capture becomes a plausible value."""
    def fill(match: re.Match) -> str:
        inner = match.group(1)
        return inner.split("|")[0] if "|" in inner else "abc_123"
    return re.sub(r"\(([^()]*)\)", fill, pattern.rstrip("$"))


def _admin_routes() -> list[tuple[str, str]]:
    """(path, METHOD) of every operator endpoint in the app's real route table."""
    settings = Settings(**TEST_SETTINGS)
    app = make_app(settings, cast(Deps, None))  # the route table only: no services are reached
    found = []
    for rule in app.wildcard_router.rules:
        pattern = rule.matcher.regex.pattern
        if not pattern.startswith("/api/admin"):
            continue
        handler = rule.target
        for name in METHODS:
            method = getattr(handler, name, None)
            if method is not None and method is not getattr(tornado.web.RequestHandler, name):
                found.append((_concrete(pattern), name.upper()))
    return found


ADMIN_ROUTES = _admin_routes()


def test_route_table_is_complete():
    paths = {p for p, _ in ADMIN_ROUTES}
    for expected in ("/api/admin/upstreams", "/api/admin/groups", "/api/admin/error-rules",
                     "/api/admin/users", "/api/admin/recharges", "/api/admin/codes",
                     "/api/admin/codes/export", "/api/admin/prices", "/api/admin/overview",
                     "/api/admin/settings", "/api/admin/audit"):
        assert expected in paths
    assert len(ADMIN_ROUTES) >= 30


@pytest.mark.parametrize(("path", "method"), ADMIN_ROUTES, ids=[f"{m} {p}" for p, m in ADMIN_ROUTES])
async def test_non_admin_is_refused_everywhere(relay, path, method):
    _user, token = await signed_in(relay, "user")
    async with relay.client() as http:
        body = {} if method in ("POST", "PUT", "PATCH") else None
        err = error(await Api(http, token).request(method, path, body), 403)
        assert err["type"] == "permission_error"
        error(await Api(http, None).request(method, path, body), 401)


async def test_disabled_admin_and_stale_session_are_refused(relay):
    user, token = await signed_in(relay, "admin")
    async with relay.client() as http:
        api = Api(http, token)
        assert (await api.get("/api/admin/overview")).status_code == 200
        await relay.deps.user_store.bump_token_version(user["_id"])
        error(await api.get("/api/admin/overview"), 401)
        error(await Api(http, "garbage").get("/api/admin/overview"), 401)


class _Forgotten(AdminHandler):
    @admin_required
    async def get(self) -> None:
        self.write_json({})

    async def delete(self) -> None:  # the forgotten decorator
        self.write_json({})


class _PublicByMistake(AdminHandler):
    @allow_unauthenticated
    async def get(self) -> None:
        self.write_json({})


def test_unguarded_admin_methods_are_found():
    assert unguarded_methods([(r"/api/admin/x", _Forgotten)]) == ["/api/admin/x DELETE"]
    assert unguarded_methods([(r"/api/admin/y", _PublicByMistake)]) == ["/api/admin/y GET"]
    with pytest.raises(RuntimeError, match="admin_required"):
        check_admin_routes([(r"/api/admin/x", _Forgotten)])
    assert check_admin_routes([(r"/api/user/x", _PublicByMistake)])  # not an operator route


def test_make_app_refuses_to_start_with_an_unguarded_admin_route(monkeypatch):
    from admin_api import admin_system

    settings = Settings(**TEST_SETTINGS)
    deps = cast(Deps, None)  # the route table only, no services
    make_app(settings, deps)  # the real table passes
    # _Forgotten's DELETE has an auth marker check upstream too; give it one that is not "admin".
    from admin_api.auth import authenticated

    class _UserOnly(AdminHandler):
        @authenticated
        async def get(self) -> None:
            self.write_json({})

    monkeypatch.setattr(admin_system, "default_handlers",
                        admin_system.default_handlers + [(r"/api/admin/oops", _UserOnly)])
    with pytest.raises(RuntimeError, match="/api/admin/oops GET"):
        make_app(settings, deps)
