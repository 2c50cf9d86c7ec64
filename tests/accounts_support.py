"""Helpers of the account API tests: accounts made over HTTP, authorised clients, usage rows
charged through the real ``ChargeService``, and document counts to prove nothing was written."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from server.billing.charges import UsageRecord
from server.pricing.usage import Usage
from server.ids import new_id

PASSWORD = "correct horse battery"
COUNTED = ("users", "api_keys", "recharge_orders", "redeem_codes", "ledger", "usage")


@dataclass
class Account:
    """A registered, logged-in user and an HTTP client that carries their session."""

    user: dict[str, Any]
    email: str
    password: str
    token: str
    http: httpx.AsyncClient

    @property
    def id(self) -> str:
        return self.user["id"]

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(), **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.http.post(path, json=json, headers=self.auth(), **kw)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete(path, headers=self.auth())


def unique(prefix: str = "u") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


async def register(http: httpx.AsyncClient, name: str | None = None,
                   password: str = PASSWORD) -> tuple[dict[str, Any], str]:
    name = name or unique()
    email = f"{name}@example.test"
    r = await http.post("/api/user/register", json={"username": name, "email": email, "password": password})
    assert r.status_code == 201, r.text
    return r.json(), email


async def login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    r = await http.post("/api/user/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["token"]


async def account(http: httpx.AsyncClient, name: str | None = None) -> Account:
    """Register and log in a new user."""
    user, email = await register(http, name)
    return Account(user=user, email=email, password=PASSWORD, token=await login(http, email), http=http)


async def counts(storage) -> dict[str, int]:
    """Documents per collection that an account request could write."""
    values = await asyncio.gather(*[storage.collection(name).count_documents({}) for name in COUNTED])
    return dict(zip(COUNTED, values))


async def usage_record(deps, user_id: str, key_id: str, *, model: str = "claude-sonnet-4-5",
                       group: str = "claude", usage: Usage = Usage(input=1000, output=200),
                       ts: dt.datetime | None = None, key_name: str = "k") -> UsageRecord:
    """A finished request priced by the stored rules and the group's multiplier."""
    rule = await deps.prices.find(model)
    assert rule is not None, model
    group_doc = await deps.groups.get(group)
    record = UsageRecord(request_id=new_id("req"), user_id=user_id, key_id=key_id, group=group,
                         model=model, usage=usage, rule=rule, multiplier_ppm=group_doc["multiplier_ppm"],
                         key_name=key_name, latency_ms=1234, ttft_ms=321, stream=True,
                         upstream_request_id="msg_up_" + secrets.token_hex(3))
    if ts is not None:
        record.ts = ts
    return record
