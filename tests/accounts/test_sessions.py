"""Registration, login, the profile, session renewal and expiry, password changes and logout
ending old sessions, disabled users, and the start-up check that every dashboard verb is authenticated."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
import tornado.web

from admin_api.auth import allow_unauthenticated, check_routes
from server.accounts.sessions import load_jwt_secret
from tests.accounts_support import PASSWORD, account, counts, login, register, unique
from tests.support import RelayUnderTest


async def test_register_and_me(relay):
    async with relay.client() as http:
        name = unique("Reg")
        r = await http.post("/api/user/register",
                            json={"username": name, "email": f"  {name}@Example.TEST ", "password": PASSWORD})
        assert r.status_code == 201
        user = r.json()
        assert user["email"] == f"{name.lower()}@example.test" and user["username"] == name
        assert user["role"] == "user" and user["status"] == "active"  # the first user is no admin
        assert user["balance"] == 0 and user["balance_display"] == "0"
        assert "password_hash" not in user and "ledger_marks" not in user
        doc = await relay.deps.storage.db.users.find_one({"_id": user["id"]})
        assert doc["password_hash"].startswith("$2") and PASSWORD not in str(doc)
        assert doc["token_version"] == 0 and doc["ledger_marks"] == {}

        r = await http.post("/api/user/login", json={"email": f"{name}@EXAMPLE.test", "password": PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert body["user"]["id"] == user["id"] and body["token_type"] == "Bearer"
        assert body["expires_in"] == relay.settings.session_ttl and body["expires_at"].endswith("Z")
        r = await http.get("/api/user/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert r.status_code == 200
        me = r.json()
        assert me == {**user, "balance": 0, "balance_display": "0"}
        assert set(me) == {"id", "username", "email", "role", "status", "balance", "balance_display",
                           "created_at"}


async def test_duplicates_name_the_field(relay):
    async with relay.client() as http:
        name = unique()
        await register(http, name)
        before = await counts(relay.deps.storage)
        r = await http.post("/api/user/register",
                            json={"username": unique(), "email": f"{name.upper()}@example.test", "password": PASSWORD})
        assert r.status_code == 409
        assert r.json() == {"error": {"message": "该邮箱已被注册", "type": "conflict", "field": "email"}}
        r = await http.post("/api/user/register",
                            json={"username": name, "email": f"{unique()}@example.test", "password": PASSWORD})
        assert r.status_code == 409 and r.json()["error"]["field"] == "username"
        assert await counts(relay.deps.storage) == before


async def test_register_validation(relay):
    async with relay.client() as http:
        before = await counts(relay.deps.storage)
        cases = [({"password": "short"}, "password"), ({"email": "not-an-email"}, "email"),
                 ({"email": "a@b"}, "email"), ({"username": "ab"}, "username"),
                 ({"username": "bad name"}, "username"), ({"username": None}, "username"),
                 ({"password": "x" * 300}, "password")]
        for change, field in cases:
            body = {"username": unique(), "email": f"{unique()}@example.test", "password": PASSWORD, **change}
            r = await http.post("/api/user/register", json=body)
            assert r.status_code == 400, (change, r.text)
            assert r.json()["error"]["field"] == field and r.json()["error"]["type"] == "invalid_request_error"
        assert await counts(relay.deps.storage) == before


async def test_registration_closed(relay):
    await relay.deps.runtime_settings.update(registration_open=False)
    try:
        async with relay.client() as http:
            before = await counts(relay.deps.storage)
            r = await http.post("/api/user/register",
                                json={"username": unique(), "email": f"{unique()}@example.test", "password": PASSWORD})
            assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
            assert await counts(relay.deps.storage) == before
    finally:
        await relay.deps.runtime_settings.update(registration_open=True)


async def test_wrong_credentials_same_401(relay):
    async with relay.client() as http:
        _, email = await register(http)
        wrong = await http.post("/api/user/login", json={"email": email, "password": "wrong password"})
        unknown = await http.post("/api/user/login", json={"email": f"{unique()}@example.test", "password": PASSWORD})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json() == {
            "error": {"message": "邮箱或密码错误", "type": "authentication_error"}}


async def test_missing_bad_and_tampered_tokens(relay):
    async with relay.client() as http:
        acct = await account(http)
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"},
                        {"Authorization": "Bearer not.a.jwt"},
                        {"Authorization": "Bearer " + acct.token[:-2] + "xx"},
                        {"Authorization": "Bearer " + jwt.encode(
                            {"sub": acct.id, "ver": 0, "exp": int(time.time()) + 60}, "x" * 40)}):
            r = await http.get("/api/user/me", headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"]["type"] == "authentication_error"


async def test_refresh_and_expiry(relay, monkeypatch):
    async with relay.client() as http:
        acct = await account(http)
        start = time.time()
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + 100)
        r = await acct.post("/api/user/token/refresh")
        assert r.status_code == 200
        fresh = r.json()["token"]
        assert jwt.decode(fresh, options={"verify_signature": False})["exp"] >= int(start) + 100 + relay.settings.session_ttl
        # Past the first token's expiry, only the renewed one still works.
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + relay.settings.session_ttl + 50)
        assert (await http.get("/api/user/me", headers=acct.auth())).status_code == 401
        assert (await http.get("/api/user/me", headers=acct.auth(fresh))).status_code == 200
        r = await http.post("/api/user/token/refresh", headers=acct.auth())
        assert r.status_code == 401


async def test_password_change_ends_old_sessions(relay):
    async with relay.client() as http:
        acct = await account(http)
        other = (await http.post("/api/user/token/refresh", headers=acct.auth())).json()["token"]
        r = await acct.post("/api/user/password", {"old_password": "nope nope", "new_password": "new password 1"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "old_password"
        r = await acct.post("/api/user/password", {"old_password": PASSWORD, "new_password": "short"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "new_password"
        r = await acct.post("/api/user/password", {"old_password": PASSWORD, "new_password": "new password 1"})
        assert r.status_code == 200
        current = r.json()["token"]
        for token in (acct.token, other):
            assert (await http.get("/api/user/me", headers=acct.auth(token))).status_code == 401
        assert (await http.get("/api/user/me", headers=acct.auth(current))).status_code == 200
        r = await http.post("/api/user/login", json={"email": acct.email, "password": PASSWORD})
        assert r.status_code == 401
        assert await login(http, acct.email, "new password 1")


async def test_logout_ends_every_session(relay):
    async with relay.client() as http:
        acct = await account(http)
        other_device = await login(http, acct.email)
        bystander = await account(http)
        r = await acct.post("/api/user/logout")
        assert r.status_code == 204 and r.content == b""
        for token in (acct.token, other_device):
            r = await http.get("/api/user/me", headers=acct.auth(token))
            assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
            assert (await http.post("/api/user/logout", headers=acct.auth(token))).status_code == 401
        assert (await bystander.get("/api/user/me")).status_code == 200
        assert (await http.post("/api/user/logout")).status_code == 401
        fresh = await login(http, acct.email)  # logging in again works as before
        assert (await http.get("/api/user/me", headers=acct.auth(fresh))).status_code == 200


async def test_disabled_user(relay):
    async with relay.client() as http:
        acct = await account(http)
        # Disabled behind the service's back (token_version untouched): the session check says 403.
        await relay.deps.storage.db.users.update_one({"_id": acct.id}, {"$set": {"status": "disabled"}})
        r = await acct.get("/api/user/me")
        assert r.status_code == 403 and r.json()["error"]["message"] == "账户已被禁用"
        r = await http.post("/api/user/login", json={"email": acct.email, "password": PASSWORD})
        assert r.status_code == 403
        # Disabled by the operator's service method: every session ends at once.
        await relay.deps.storage.db.users.update_one({"_id": acct.id}, {"$set": {"status": "active"}})
        await relay.deps.user_store.set_status(acct.id, "disabled")
        assert (await acct.get("/api/user/me")).status_code == 401


def test_every_verb_needs_an_auth_marker():
    class Forgotten(tornado.web.RequestHandler):
        async def get(self) -> None: ...

    class Public(tornado.web.RequestHandler):
        @allow_unauthenticated
        async def get(self) -> None: ...

    assert check_routes([(r"/ok", Public)])
    with pytest.raises(RuntimeError, match="Forgotten.get"):
        check_routes([(r"/x", Forgotten)])


async def test_processes_share_the_generated_secret(relay, storage):
    """A second process over the same database signs and accepts the same sessions."""
    secrets_ = await asyncio.gather(*[load_jwt_secret(relay.settings, storage) for _ in range(5)])
    assert len(set(secrets_)) == 1 and len(secrets_[0]) >= 40
    configured = relay.settings.replace(jwt_secret="configured-" + "s" * 40)
    assert await load_jwt_secret(configured, storage) == configured.jwt_secret
    second = await RelayUnderTest.start(storage)
    try:
        async with relay.client() as http, second.client() as http2:
            acct = await account(http)
            r = await http2.get("/api/user/me", headers=acct.auth())
            assert r.status_code == 200 and r.json()["id"] == acct.id
        assert await storage.db.groups.count_documents({}) == 2  # seeding is idempotent
        assert sorted([g["_id"], g["protocol"]] for g in await second.deps.groups.list()) == [
            ["claude", "anthropic"], ["codex", "openai"]]
    finally:
        await second.stop()
