"""Errors in the caller's language over real HTTP: the dashboard API (`/api/*`) answers in the
language of `Accept-Language` (zh by default), the relay (`/v1/*`) always in the API
document's Chinese."""

from __future__ import annotations

import pytest

from tests.accounts_support import PASSWORD, account, register, unique
from tests.relay.support import make_key, make_user

EN = {"Accept-Language": "en-US,en;q=0.9"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
MSG = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def error_of(response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize("headers, expected", [
    (EN, "Wrong email or password"), (ZH, "邮箱或密码错误"), ({}, "邮箱或密码错误"),
    ({"Accept-Language": "fr-FR, en;q=0.5"}, "Wrong email or password"),
    ({"Accept-Language": "en;q=0.3, zh;q=0.7"}, "邮箱或密码错误"),
    ({"Accept-Language": "de, *"}, "邮箱或密码错误"),
])
async def test_wrong_password_in_the_callers_language(relay, headers, expected):
    async with relay.client() as http:
        _, email = await register(http)
        r = await http.post("/api/user/login", json={"email": email, "password": "not it at all"}, headers=headers)
    assert r.status_code == 401
    assert error_of(r) == {"message": expected, "type": "authentication_error"}


async def test_taken_email_bad_json_and_unknown_path(relay):
    async with relay.client() as http:
        _, email = await register(http)
        body = {"username": unique(), "email": email, "password": PASSWORD}
        for headers, message in ((EN, "This email is already registered"), (ZH, "该邮箱已被注册")):
            r = await http.post("/api/user/register", json=body, headers=headers)
            assert r.status_code == 409
            assert error_of(r) == {"message": message, "type": "conflict", "field": "email"}

        en = await http.post("/api/user/login", content=b"{not json", headers=EN)
        zh = await http.post("/api/user/login", content=b"{not json", headers=ZH)
        assert en.status_code == zh.status_code == 400
        assert error_of(en)["message"].startswith("The request body is not valid JSON: ")
        assert error_of(zh)["message"].startswith("请求体不是有效的 JSON: ")
        # The parser's own detail is the same in both.
        assert error_of(en)["message"].split(": ", 1)[1] == error_of(zh)["message"].split(": ", 1)[1]

        missing = await http.post("/api/user/login", json={"password": "x"}, headers=EN)
        assert error_of(missing)["message"] == "Missing field email"

        for headers, message in ((EN, "No such endpoint"), (ZH, "接口不存在")):
            r = await http.get("/api/no/such/thing", headers=headers)
            assert r.status_code == 404 and error_of(r)["message"] == message
        for headers, message in ((EN, "Method not allowed"), (ZH, "不支持该请求方法")):
            r = await http.delete("/api/user/login", headers=headers)
            assert r.status_code == 405 and error_of(r)["message"] == message


async def test_redeem_code_refusals_in_the_callers_language(relay):
    await relay.deps.runtime_settings.update(recharge_mode="code")
    try:
        async with relay.client() as http:
            acct = await account(http)
            code = (await relay.deps.redeem.create_codes(1_000_000, 1, None, "usr_admin"))[0]["code"]
            assert (await acct.post("/api/user/recharge", {"code": code})).status_code == 201
            used_en = await http.post("/api/user/recharge", json={"code": code}, headers={**acct.auth(), **EN})
            used_zh = await http.post("/api/user/recharge", json={"code": code}, headers={**acct.auth(), **ZH})
            assert used_en.status_code == used_zh.status_code == 400
            assert error_of(used_en)["message"] == "This recharge code has already been used"
            assert error_of(used_zh)["message"] == "兑换码已被使用"
            unknown = await http.post("/api/user/recharge", json={"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"},
                                      headers={**acct.auth(), **EN})
            assert error_of(unknown)["message"] == "No such recharge code"
            none = await http.post("/api/user/recharge", json={}, headers={**acct.auth(), **EN})
            assert error_of(none)["message"] == "Recharges are by code at the moment: please enter a code"
    finally:
        await relay.deps.runtime_settings.update(recharge_mode="manual")


async def test_session_and_admin_refusals_in_english(relay):
    async with relay.client() as http:
        acct = await account(http)
        r = await http.get("/api/user/me", headers=EN)
        assert r.status_code == 401
        assert error_of(r)["message"] == "Not logged in or the session has expired, please log in again"
        r = await http.get("/api/admin/users", headers={**acct.auth(), **EN})
        assert r.status_code == 403 and error_of(r)["message"] == "Administrator rights required"


async def test_relay_keeps_the_documents_chinese(relay, pool):
    poor = await make_user(relay.deps.storage, balance=0)
    key = await make_key(relay.deps.storage, poor["_id"], "claude")
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": key, **EN})
        assert r.status_code == 402
        assert r.json()["error"] == {"type": "insufficient_balance", "message": "账户余额不足,请充值"}
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": "sk-nope", **EN})
        assert r.status_code == 401 and r.json()["error"]["message"] == "无效的 API Key"
        r = await http.post("/v1/messages", content=b"{not json", headers={"x-api-key": key, **EN})
        assert r.status_code == 400 and r.json()["error"]["message"].startswith("请求体不是有效的 JSON")


async def test_operator_refusals_in_english_including_the_proxy_check(relay):
    from tests.admin.support import signed_in

    _, token = await signed_in(relay, role="admin")
    body = {"name": "bad-proxy", "groups": ["claude"], "protocol": "anthropic",
            "base_url": "http://127.0.0.1:9", "api_key": "k", "proxy": "ftp://127.0.0.1:21"}
    async with relay.client() as http:
        replies = {}
        for lang, headers in (("en", EN), ("zh", ZH)):
            r = await http.post("/api/admin/upstreams", json=body,
                                headers={"Authorization": f"Bearer {token}", **headers})
            assert r.status_code == 400 and error_of(r)["field"] == "proxy", r.text
            replies[lang] = error_of(r)["message"]
        r = await http.post("/api/admin/upstreams", json={**body, "proxy": "", "protocol": "smtp"},
                            headers={"Authorization": f"Bearer {token}", **EN})
        assert error_of(r)["message"] == "protocol must be anthropic or openai"
    assert replies["en"] == ("proxy: the proxy address must start with http://, socks5:// or socks5h:// "
                             "(empty = the global proxy, direct = no proxy)")
    assert replies["zh"] == "proxy 代理地址必须以 http://、socks5:// 或 socks5h:// 开头(留空 = 使用全局代理,direct = 不使用代理)"
