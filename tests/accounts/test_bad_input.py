"""Malformed requests to every writing endpoint: bad JSON, wrong JSON types, huge bodies and
unicode oddities get a clear 400 (or 413) in the dashboard envelope, and nothing is written."""

from __future__ import annotations

import pytest

from tests.accounts_support import PASSWORD, account, counts, unique

WRITERS = ["/api/user/register", "/api/user/login", "/api/user/keys", "/api/user/recharge",
           "/api/user/password"]


@pytest.fixture(scope="module")
async def acct(relay):
    async with relay.client() as http:
        yield await account(http)


NOT_JSON_OBJECTS = [b"", b"{", b"{'a': 1}", b"[]", b'"text"', b"null", b"42", b"\xff\xfe{}",
                    b'{"username": "\\ud800"}', b"{}" + b" " * 10 + b"x"]


@pytest.mark.parametrize("path", WRITERS)
async def test_not_a_json_object(relay, acct, path):
    before = await counts(relay.deps.storage)
    for raw in NOT_JSON_OBJECTS:
        r = await acct.http.post(path, content=raw, headers={**acct.auth(), "Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error" and "JSON" in error["message"], (raw, error)
    assert await counts(relay.deps.storage) == before


@pytest.mark.parametrize("path", WRITERS)
async def test_huge_body_is_413(relay, acct, path):
    before = await counts(relay.deps.storage)
    body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = await acct.http.post(path, content=body, headers=acct.auth())
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
    assert await counts(relay.deps.storage) == before


@pytest.mark.parametrize("change, field", [
    ({"username": "ab\u200bcd"}, "username"),          # zero-width space
    ({"username": "evil\u202egnp"}, "username"),       # right-to-left override
    ({"username": "nul\u0000name"}, "username"),
    ({"username": "a" * 65}, "username"),
    ({"username": ["list"]}, "username"),
    ({"email": "nul\u0000@example.test"}, "email"),
    ({"email": "a@exa\u200bmple.test"}, "email"),
    ({"email": 12}, "email"),
    ({"email": "x" * 400 + "@example.test"}, "email"),
    ({"password": 12345678}, "password"),
    ({"password": "nul\u0000password"}, "password"),
    ({"password": {"a": 1}}, "password"),
])
async def test_register_oddities(relay, change, field):
    async with relay.client() as http:
        before = await counts(relay.deps.storage)
        body = {"username": unique(), "email": f"{unique()}@example.test", "password": PASSWORD, **change}
        r = await http.post("/api/user/register", json=body)
        assert r.status_code == 400, (change, r.text)
        assert r.json()["error"]["field"] == field
        assert await counts(relay.deps.storage) == before


async def test_unicode_that_is_fine(relay):
    async with relay.client() as http:
        name = "用户" + unique()
        r = await http.post("/api/user/register",
                            json={"username": name, "email": f"{unique()}@example.test", "password": "密码🔑 okay!"})
        assert r.status_code == 201 and r.json()["username"] == name
        folded = await http.post("/api/user/register", json={
            "username": "ＡＢＣ" + name[2:], "email": f"{unique()}@example.test", "password": PASSWORD})
        assert folded.status_code == 201 and folded.json()["username"] == "ABC" + name[2:]
        token = (await http.post("/api/user/login", json={"email": r.json()["email"],
                                                           "password": "密码🔑 okay!"})).json()["token"]
        r = await http.post("/api/user/keys", json={"name": "  生产 🚀 key  "},
                            headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201 and r.json()["name"] == "生产 🚀 key"


@pytest.mark.parametrize("body, field", [
    ({"name": "a\u0000b"}, "name"),
    ({"name": "a\u202eb"}, "name"),
    ({"name": 5}, "name"),
    ({"name": "k", "group": ["claude"]}, "group"),
    ({"name": "k", "models": [1, 2]}, "models"),
    ({"name": "k", "models": ["x"] * 101}, "models"),
    ({"name": "k", "spendQuota": {"v": 1}}, "spendQuota"),
    ({"name": "k", "expiresAt": 10**20}, "expiresAt"),
    ({"name": "k", "expiresAt": ["2030-01-01"]}, "expiresAt"),
    ({"name": "k", "maxConcurrency": 10**30}, "maxConcurrency"),
])
async def test_key_oddities(relay, acct, body, field):
    before = await counts(relay.deps.storage)
    r = await acct.post("/api/user/keys", body)
    assert r.status_code == 400, (body, r.text)
    assert r.json()["error"]["field"] == field
    assert await counts(relay.deps.storage) == before


@pytest.mark.parametrize("body, field", [
    ({"amount": "1\u00a0000"}, "amount"),
    ({"amount": "１００"}, "amount"),
    ({"amount": 10, "description": "a\u0000"}, "description"),
    ({"amount": 10, "code": 123}, "code"),
])
async def test_recharge_oddities(relay, acct, body, field):
    before = await counts(relay.deps.storage)
    r = await acct.post("/api/user/recharge", body)
    assert r.status_code == 400, (body, r.text)
    assert r.json()["error"]["field"] == field
    assert await counts(relay.deps.storage) == before


async def test_unknown_key_paths_and_methods(relay, acct):
    r = await acct.get("/api/user/keys/key_nope")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    r = await acct.post("/api/user/keys/key_nope/explode")
    assert r.status_code == 404
    r = await acct.http.put("/api/user/me", headers=acct.auth())
    assert r.status_code == 405 and r.json()["error"]["type"] == "method_not_allowed"
