"""The user side of the dashboard API (``/api/user/*``): account, sessions, API keys,
recharges, statistics, request log, transactions and prices. Handlers only parse the
request, call one service and serialise the answer; rules live in ``server.accounts``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from admin_api.auth import allow_unauthenticated, authenticated
from server.accounts import fields
from server.accounts.recharge import MAX_RECHARGE
from server.accounts.times import from_epoch, iso, parse_client_time
from server.accounts.views import key_view, money, order_view, user_view
from server.errors import BadRequest
from server.i18n import t
from server.storage.ledger import ENTRY_TYPES
from server.storage.usage_cursor import LogCursor
from server.web.base import BaseHandler

if TYPE_CHECKING:
    from server.accounts.keys import KeyService
    from server.accounts.recharge import RechargeService
    from server.accounts.stats import StatsService
    from server.accounts.users import UserService

MAX_PAGE = 500
KEY_ID = r"([A-Za-z0-9_-]{1,64})"


class UserApiHandler(BaseHandler):
    """Typed access to the account services and the current user."""

    @property
    def users(self) -> "UserService":
        return self.deps.users

    @property
    def keys(self) -> "KeyService":
        return self.deps.keys

    @property
    def recharge(self) -> "RechargeService":
        return self.deps.recharge

    @property
    def stats(self) -> "StatsService":
        return self.deps.stats

    @property
    def user_id(self) -> str:
        return self.current_user["_id"]

    def page(self) -> tuple[int, int]:
        """``limit`` (default 100, at most 500) and ``offset`` query arguments."""
        limit = fields.query_int(self.get_query_argument("limit", None), "limit", default=100,
                                 minimum=1, maximum=MAX_PAGE)
        offset = fields.query_int(self.get_query_argument("offset", None), "offset", default=0)
        return limit, offset

    def cursor(self) -> LogCursor | None:
        """The ``before`` query argument: a cursor this API returned as ``next_cursor``."""
        text = self.get_query_argument("before", None)
        if not text:
            return None
        try:
            return LogCursor.decode(text)
        except ValueError:
            raise BadRequest(t("before 无效,请使用上一页返回的 next_cursor"), field="before") from None

    def session_json(self, token: str, expires_at: Any) -> dict[str, Any]:
        return {"token": token, "token_type": "Bearer", "expires_at": iso(expires_at),
                "expires_in": self.deps.settings.session_ttl}


class RegisterHandler(UserApiHandler):
    """``POST /api/user/register``: a new ordinary user (201)."""

    @allow_unauthenticated
    async def post(self) -> None:
        body = self.get_json_body()
        user = await self.users.register(
            fields.text(body, "username", max_len=64, min_len=1),
            fields.text(body, "email", max_len=320, min_len=1),
            fields.text(body, "password", max_len=1024, strip=False, visible=False))
        self.write_json(user_view(user), status=201)


class LoginHandler(UserApiHandler):
    """``POST /api/user/login``: a session token for valid credentials (throttled)."""

    @allow_unauthenticated
    async def post(self) -> None:
        body = self.get_json_body()
        token, expires_at, user = await self.users.login(
            fields.text(body, "email", max_len=320, min_len=1),
            fields.text(body, "password", max_len=1024, strip=False, visible=False),
            self.client_ip())
        self.write_json({**self.session_json(token, expires_at), "user": user_view(user)})


class TokenRefreshHandler(UserApiHandler):
    """``POST /api/user/token/refresh``: a fresh token before the current one expires."""

    @authenticated
    async def post(self) -> None:
        token, expires_at = self.users.refresh(self.current_user)
        self.write_json(self.session_json(token, expires_at))


class PasswordHandler(UserApiHandler):
    """``POST /api/user/password``: change the password, ending every other session."""

    @authenticated
    async def post(self) -> None:
        body = self.get_json_body()
        token, expires_at = await self.users.change_password(
            self.current_user,
            fields.text(body, "old_password", max_len=1024, strip=False, visible=False),
            fields.text(body, "new_password", max_len=1024, strip=False, visible=False),
            self.client_ip())
        self.write_json(self.session_json(token, expires_at))


class LogoutHandler(UserApiHandler):
    """``POST /api/user/logout``: end every session of the user (all devices), 204."""

    @authenticated
    async def post(self) -> None:
        await self.users.logout(self.user_id)
        self.set_status(204)
        self.clear_header("Content-Type")
        self.finish()


class MeHandler(UserApiHandler):
    """``GET /api/user/me``: the current user's profile and balance."""

    @authenticated
    async def get(self) -> None:
        self.write_json(user_view(self.current_user))


class KeysHandler(UserApiHandler):
    """``GET|POST /api/user/keys``: list the user's keys, or create one (full key shown once)."""

    @authenticated
    async def get(self) -> None:
        now = from_epoch(self.deps.clock.now())
        self.write_json({"data": [key_view(k, now) for k in await self.keys.list_for_user(self.user_id)]})

    @authenticated
    async def post(self) -> None:
        body = self.get_json_body()
        rate_limit = body.get("rateLimit")
        key, secret = await self.keys.create(
            self.user_id,
            name=fields.text(body, "name", max_len=64, min_len=1),
            group=fields.text(body, "group", required=False, max_len=64) or None,
            rate_limit=None if rate_limit is None else fields.integer(body, "rateLimit", maximum=100_000),
            max_concurrency=fields.integer(body, "maxConcurrency", default=0, maximum=10_000),
            expires_at=parse_client_time(body.get("expiresAt"), "expiresAt"),
            models=fields.string_list(body, "models"),
            spend_quota=fields.money(body, "spendQuota", required=False, maximum=MAX_RECHARGE))
        now = from_epoch(self.deps.clock.now())
        self.write_json({"key": secret, **key_view(key, now)}, status=201)


class KeyHandler(UserApiHandler):
    """``GET|DELETE /api/user/keys/:id``: one key of the user; delete is for good."""

    @authenticated
    async def get(self, key_id: str) -> None:
        key = await self.keys.get_for_user(self.user_id, key_id)
        self.write_json(key_view(key, from_epoch(self.deps.clock.now())))

    @authenticated
    async def delete(self, key_id: str) -> None:
        await self.keys.delete(self.user_id, key_id)
        self.write_json({"id": key_id, "deleted": True})


class KeyStatusHandler(UserApiHandler):
    """``POST /api/user/keys/:id/disable|enable``."""

    @authenticated
    async def post(self, key_id: str, action: str) -> None:
        status = "disabled" if action == "disable" else "active"
        key = await self.keys.set_status(self.user_id, key_id, status)
        self.write_json(key_view(key, from_epoch(self.deps.clock.now())))


class RechargeHandler(UserApiHandler):
    """``GET|POST /api/user/recharge``: the user's orders and the recharge mode (manual, code
    or open: which form the dashboard shows), or a recharge in the current mode."""

    @authenticated
    async def get(self) -> None:
        limit, offset = self.page()
        orders, total = await self.recharge.list_for_user(self.user_id, limit, offset)
        self.write_json({"data": [order_view(o) for o in orders], "total": total,
                         "limit": limit, "offset": offset, "recharge_mode": await self.recharge.mode()})

    @authenticated
    async def post(self) -> None:
        body = self.get_json_body()
        order, balance = await self.recharge.request(
            self.user_id,
            amount=fields.money(body, "amount", required=False, minimum=1, maximum=MAX_RECHARGE),
            description=fields.text(body, "description", required=False, max_len=200),
            code=fields.text(body, "code", required=False, max_len=64) or None)
        self.write_json({"order": order_view(order), **money("balance", balance)}, status=201)


class StatsHandler(UserApiHandler):
    """``GET /api/user/stats``: balance and spend today / 7 days / 30 days, by model and key."""

    @authenticated
    async def get(self) -> None:
        self.write_json(await self.stats.summary(self.user_id))


class LogsHandler(UserApiHandler):
    """``GET /api/user/logs?limit&offset|before&key&model&from&to``: the request log, newest
    first; ``before`` is the ``next_cursor`` of the previous page (keyset paging)."""

    @authenticated
    async def get(self) -> None:
        limit, offset = self.page()
        model = self.get_query_argument("model", None) or None
        if model is not None and len(model) > 128:
            raise BadRequest(t("model 过长"), field="model")
        before = self.cursor()
        if before is not None and offset:
            raise BadRequest(t("before 与 offset 不能同时使用"), field="before")
        self.write_json(await self.stats.logs(
            self.user_id, limit=limit, offset=offset, before=before, model=model,
            key_id=self.get_query_argument("key", None) or None,
            since=parse_client_time(self.get_query_argument("from", None), "from"),
            until=parse_client_time(self.get_query_argument("to", None), "to")))


class TransactionsHandler(UserApiHandler):
    """``GET /api/user/transactions?limit&offset&type``: the ledger, newest first."""

    @authenticated
    async def get(self) -> None:
        limit, offset = self.page()
        kind = self.get_query_argument("type", None) or None
        if kind is not None and kind not in ENTRY_TYPES:
            raise BadRequest(t("type 必须是 {choices} 之一", choices=', '.join(ENTRY_TYPES)), field="type")
        self.write_json(await self.stats.transactions(self.user_id, limit=limit, offset=offset, type=kind))


class TransactionRowsHandler(UserApiHandler):
    """``GET /api/user/transactions/<id>/rows``: the usage rows a flush's charge entry summed
    (one entry per user per usage flush carries their sum; issue 15)."""

    @authenticated
    async def get(self, entry_id: str) -> None:
        self.write_json(await self.stats.transaction_rows(self.user_id, entry_id))


class PricingHandler(UserApiHandler):
    """``GET /api/user/pricing``: prices per million tokens, per group multiplier."""

    @authenticated
    async def get(self) -> None:
        self.write_json(await self.stats.pricing())


default_handlers = [
    (r"/api/user/register", RegisterHandler),
    (r"/api/user/login", LoginHandler),
    (r"/api/user/token/refresh", TokenRefreshHandler),
    (r"/api/user/password", PasswordHandler),
    (r"/api/user/logout", LogoutHandler),
    (r"/api/user/me", MeHandler),
    (r"/api/user/keys", KeysHandler),
    (rf"/api/user/keys/{KEY_ID}", KeyHandler),
    (rf"/api/user/keys/{KEY_ID}/(disable|enable)", KeyStatusHandler),
    (r"/api/user/recharge", RechargeHandler),
    (r"/api/user/stats", StatsHandler),
    (r"/api/user/logs", LogsHandler),
    (r"/api/user/transactions", TransactionsHandler),
    (rf"/api/user/transactions/{KEY_ID}/rows", TransactionRowsHandler),
    (r"/api/user/pricing", PricingHandler),
]
