"""Operator API test helpers: admins and ordinary users with session tokens, and an HTTP
client that speaks JSON with a Bearer token."""

from __future__ import annotations

from typing import Any

import httpx

from tests.relay.support import make_user


class Api:
    """A JSON client of one relay, signed in as one user."""

    def __init__(self, http: httpx.AsyncClient, token: str | None) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": self.headers}
        if body is not None:
            kwargs["json"] = body
        return await self.http.request(method, path, **kwargs)

    async def get(self, path: str) -> httpx.Response:
        return await self.request("GET", path)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.request("POST", path, body)

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.request("PATCH", path, body)

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.request("PUT", path, body)

    async def delete(self, path: str) -> httpx.Response:
        return await self.request("DELETE", path)


async def signed_in(relay, role: str = "user", **fields: Any) -> tuple[dict[str, Any], str]:
    """A new user of ``role`` and a session token for them."""
    user = await make_user(relay.deps.storage, role=role, **fields)
    token, _ = relay.deps.sessions.issue(user)
    return user, token


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body, after asserting the status (the body is shown if it differs)."""
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The dashboard error envelope, after asserting its status (and the named field)."""
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) >= {"message", "type"}
    if field is not None:
        assert field in body["message"] or body.get("field") == field, body
    return body
