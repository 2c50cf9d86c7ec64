"""API keys over HTTP: creation (full key once, only its hash stored), limits fields, the
listing, disable/enable/delete, isolation between users (404, never 403), and ``resolve``,
the relay's cached lookup."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time

import pytest

from server.accounts.keys import STALE_GRACE
from server.errors import Forbidden, Unauthorized
from tests.accounts_support import account, counts

LISTING = {"id", "prefix", "name", "group", "rateLimit", "maxConcurrency", "models", "expiresAt",
           "expired", "spendQuota", "spendQuotaDisplay", "status", "createdAt", "lastUsedAt", "usage"}


async def test_create_with_seed_body(relay):
    async with relay.client() as http:
        acct = await account(http)
        r = await acct.post("/api/user/keys", {"name": "生产环境", "rateLimit": 60})
        assert r.status_code == 201
        body = r.json()
        secret = body.pop("key")
        assert set(body) == LISTING
        assert secret.startswith("sk-") and len(secret) >= 46
        assert body["prefix"] == f"sk-{secret[3:7]}…{secret[-4:]}"
        assert body["name"] == "生产环境" and body["group"] == "claude" and body["rateLimit"] == 60
        assert body["status"] == "active" and body["maxConcurrency"] == 0 and body["models"] == []
        assert body["expiresAt"] is None and body["spendQuota"] == 0 and body["lastUsedAt"] is None
        assert body["usage"]["requests"] == 0 and body["usage"]["costDisplay"] == "0"
        doc = await relay.deps.storage.db.api_keys.find_one({"_id": body["id"]})
        assert doc["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in str(doc) and doc["user_id"] == acct.id
        listing = (await acct.get("/api/user/keys")).json()["data"]
        assert listing == [body]  # the full key is shown only once


async def test_create_with_every_field_and_defaults(relay):
    async with relay.client() as http:
        acct = await account(http)
        expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).replace(microsecond=0)
        r = await acct.post("/api/user/keys", {
            "name": "codex ci", "group": "codex", "rateLimit": 0, "maxConcurrency": 3,
            "expiresAt": expires.isoformat().replace("+00:00", "Z"), "models": ["gpt-5*", "gpt-5*", "o3"],
            "spendQuota": "12.5"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["group"] == "codex" and body["rateLimit"] == 0 and body["maxConcurrency"] == 3
        assert body["models"] == ["gpt-5*", "o3"] and body["spendQuota"] == 12_500_000
        assert body["spendQuotaDisplay"] == "12.5" and body["expiresAt"] == expires.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        doc = await relay.deps.storage.db.api_keys.find_one({"_id": body["id"]})
        assert doc["expires_at"] == expires and doc["max_concurrency"] == 3 and doc["spend_quota"] == 12_500_000
        await relay.deps.runtime_settings.update(default_rate_limit=42)
        try:
            r = await acct.post("/api/user/keys", {"name": "default rate"})
            assert r.status_code == 201 and r.json()["rateLimit"] == 42
        finally:
            await relay.deps.runtime_settings.update(default_rate_limit=60)
        keys = (await acct.get("/api/user/keys")).json()["data"]
        assert [k["name"] for k in keys] == ["default rate", "codex ci"]  # newest first


async def test_bad_key_requests_write_nothing(relay):
    async with relay.client() as http:
        acct = await account(http)
        before = await counts(relay.deps.storage)
        past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).isoformat()
        for body, field in [({"name": "x", "group": "nope"}, "group"), ({"name": "x", "rateLimit": "60"}, "rateLimit"),
                            ({"name": "x", "rateLimit": -1}, "rateLimit"), ({"name": "x", "rateLimit": True}, "rateLimit"),
                            ({"name": ""}, "name"), ({}, "name"), ({"name": "x", "models": "gpt-*"}, "models"),
                            ({"name": "x", "models": ["bad model!"]}, "models"),
                            ({"name": "x", "expiresAt": "tomorrow"}, "expiresAt"),
                            ({"name": "x", "expiresAt": past}, "expiresAt"),
                            ({"name": "x", "maxConcurrency": 1.5}, "maxConcurrency"),
                            ({"name": "x", "spendQuota": "-3"}, "spendQuota"),
                            ({"name": "x" * 65}, "name")]:
            r = await acct.post("/api/user/keys", body)
            assert r.status_code == 400, (body, r.text)
            assert r.json()["error"]["field"] == field, (body, r.json())
        assert (await acct.post("/api/user/keys", {"name": "x", "group": "nope"})).json()["error"]["message"] == "分组 nope 不存在"
        assert await counts(relay.deps.storage) == before


async def test_lifecycle_and_resolve(relay):
    keys = relay.deps.keys
    async with relay.client() as http:
        acct = await account(http)
        r = await acct.post("/api/user/keys", {"name": "k", "rateLimit": 5})
        key_id, secret = r.json()["id"], r.json()["key"]
        key, user = await keys.resolve(secret)
        assert key["_id"] == key_id and user["_id"] == acct.id and "password_hash" not in user

        r = await acct.post(f"/api/user/keys/{key_id}/disable")
        assert r.status_code == 200 and r.json()["status"] == "disabled"
        with pytest.raises(Unauthorized, match="已禁用"):
            await keys.resolve(secret)  # the local cache entry was dropped at once
        r = await http.post("/v1/messages", headers={"x-api-key": secret},
                            json={"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": []})
        assert r.status_code == 401 and "已禁用" in r.json()["error"]["message"]

        r = await acct.post(f"/api/user/keys/{key_id}/enable")
        assert r.status_code == 200 and r.json()["status"] == "active"
        assert (await keys.resolve(secret))[0]["status"] == "active"
        r = await http.post("/v1/messages", headers={"x-api-key": secret},
                            json={"model": "claude-sonnet-4-5", "max_tokens": 8,
                                  "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 402 and r.json()["error"]["message"] == "账户余额不足,请充值"

        r = await acct.get(f"/api/user/keys/{key_id}")
        assert r.status_code == 200 and r.json()["rateLimit"] == 5
        r = await acct.delete(f"/api/user/keys/{key_id}")
        assert r.status_code == 200 and r.json() == {"id": key_id, "deleted": True}
        assert await relay.deps.storage.db.api_keys.count_documents({"_id": key_id}) == 0
        with pytest.raises(Unauthorized, match="无效的 API Key"):
            await keys.resolve(secret)
        assert (await acct.delete(f"/api/user/keys/{key_id}")).status_code == 404
        for bad in ("", "sk-", "nope", "sk-" + "x" * 300):
            with pytest.raises(Unauthorized):
                await keys.resolve(bad)


async def test_resolve_cache_expiry_and_user_state(relay, monkeypatch):
    keys = relay.deps.keys
    async with relay.client() as http:
        acct = await account(http)
        soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
        r = await acct.post("/api/user/keys", {"name": "k", "expiresAt": soon.isoformat()})
        secret = r.json()["key"]
        await keys.resolve(secret)
        # Changed by another process: this one sees it once the short cache entry lapses.
        await relay.deps.storage.db.api_keys.update_one({"_id": r.json()["id"]}, {"$set": {"status": "disabled"}})
        await keys.resolve(secret)
        mono = time.monotonic()
        monkeypatch.setattr(relay.deps.clock, "monotonic", lambda: mono + keys.cache_ttl + 1)
        await keys.resolve(secret)  # just lapsed: answered from the entry while it reloads
        await keys.reloads_done()
        with pytest.raises(Unauthorized):
            await keys.resolve(secret)
        await relay.deps.storage.db.api_keys.update_one({"_id": r.json()["id"]}, {"$set": {"status": "active"}})
        now = time.time()
        monkeypatch.setattr(relay.deps.clock, "now", lambda: now + 600)
        with pytest.raises(Unauthorized, match="已过期"):
            await keys.resolve(secret)
        listing = (await acct.get("/api/user/keys")).json()["data"]
        assert listing[0]["expired"] is True
        monkeypatch.setattr(relay.deps.clock, "now", lambda: now)
        await relay.deps.storage.db.users.update_one({"_id": acct.id}, {"$set": {"status": "disabled"}})
        # Long past the entry's grace: the lookup waits for the database and sees the change.
        monkeypatch.setattr(relay.deps.clock, "monotonic", lambda: mono + 2 * keys.cache_ttl + STALE_GRACE + 2)
        with pytest.raises(Forbidden):
            await keys.resolve(secret)


async def test_a_slow_database_does_not_stall_a_cached_key(relay, monkeypatch):
    """Past the TTL the entry answers at once while the reload waits on a slow database;
    the reload's result replaces it when it comes."""
    keys = relay.deps.keys
    async with relay.client() as http:
        acct = await account(http)
        secret = (await acct.post("/api/user/keys", {"name": "k"})).json()["key"]
        key, _ = await keys.resolve(secret)
        gate = asyncio.Event()
        loads = []
        real_load = keys._load

        async def slow_load(key_hash):
            loads.append(key_hash)
            await gate.wait()
            found, user = await real_load(key_hash)
            return {**found, "name": "reloaded"}, user

        monkeypatch.setattr(keys, "_load", slow_load)
        mono = time.monotonic()
        monkeypatch.setattr(relay.deps.clock, "monotonic", lambda: mono + keys.cache_ttl + 1)
        for _ in range(5):
            again, _ = await keys.resolve(secret)
            assert again["name"] == "k"
        assert len(keys._reloads) == 1  # one reload in flight, however many calls
        gate.set()
        await keys.reloads_done()
        assert len(loads) == 1
        assert (await keys.resolve(secret))[0]["name"] == "reloaded"


async def test_other_users_keys_are_404(relay):
    async with relay.client() as http:
        alice = await account(http)
        bob = await account(http)
        r = await alice.post("/api/user/keys", {"name": "alice's"})
        key_id = r.json()["id"]
        before = await relay.deps.storage.db.api_keys.find_one({"_id": key_id})
        assert (await bob.get("/api/user/keys")).json()["data"] == []
        for response in (await bob.get(f"/api/user/keys/{key_id}"),
                         await bob.post(f"/api/user/keys/{key_id}/disable"),
                         await bob.post(f"/api/user/keys/{key_id}/enable"),
                         await bob.delete(f"/api/user/keys/{key_id}"),
                         await bob.get("/api/user/logs", params={"key": key_id})):
            assert response.status_code == 404, response.request.url
            assert response.json() == {"error": {"message": "API Key 不存在", "type": "not_found_error"}}
        assert await relay.deps.storage.db.api_keys.find_one({"_id": key_id}) == before
        assert (await alice.get("/api/user/logs", params={"key": key_id})).status_code == 200
        assert (await http.get("/api/user/keys")).status_code == 401
