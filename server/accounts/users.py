"""Accounts: registration, login (throttled), session renewal and password changes.

Rules: emails are stripped and lower-cased; usernames are 3-32 letters (any script), digits,
``_``, ``-`` or ``.``; passwords are 8-256 characters. The first user is an ordinary user:
operators are made with the CLI, never by racing to register.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from server.accounts.fields import has_invisible
from server.accounts.passwords import MAX_LENGTH, MIN_LENGTH, PasswordHasher
from server.accounts.sessions import SessionService
from server.accounts.throttle import LoginThrottle
from server.errors import BadRequest, Forbidden, NotFound, Unauthorized
from server.i18n import t
from server.ids import new_id
from server.storage.ledger import utcnow
from server.storage.runtime_settings import RuntimeSettingsStore
from server.storage.users import UserStore

BAD_CREDENTIALS = t("邮箱或密码错误")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}")
_USERNAME = re.compile(r"[\w.-]{3,32}")


def normalize_email(value: str) -> str:
    """Strip and lower-case an email, and check its shape (400 naming ``email``)."""
    email = unicodedata.normalize("NFC", value).strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email) or has_invisible(email) or ".." in email:
        raise BadRequest(t("邮箱格式不正确"), field="email")
    return email


def check_username(value: str) -> str:
    """A username in NFKC form (look-alike forms folded), or a 400 naming ``username``."""
    name = unicodedata.normalize("NFKC", value).strip()
    if not _USERNAME.fullmatch(name) or has_invisible(name):
        raise BadRequest(t("用户名需为 3-32 个字符,只能包含文字、数字、下划线、连字符和点"),
                         field="username")
    return name


def check_password(value: str, field: str = "password") -> str:
    """A new password of acceptable length, or a 400 naming ``field``."""
    if len(value) < MIN_LENGTH:
        raise BadRequest(t("密码至少需要 {MIN_LENGTH} 个字符", MIN_LENGTH=MIN_LENGTH), field=field)
    if len(value) > MAX_LENGTH:
        raise BadRequest(t("密码不能超过 {MAX_LENGTH} 个字符", MAX_LENGTH=MAX_LENGTH), field=field)
    if "\x00" in value:
        raise BadRequest(t("密码不能包含空字符"), field=field)
    return value


class UserService:
    """Creates users and their sessions."""

    def __init__(self, store: UserStore, hasher: PasswordHasher, sessions: SessionService,
                 throttle: LoginThrottle, runtime: RuntimeSettingsStore) -> None:
        self.store = store
        self.hasher = hasher
        self.sessions = sessions
        self.throttle = throttle
        self.runtime = runtime

    async def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        """Create an active, ordinary user with a zero balance (403 when registration is closed)."""
        if not (await self.runtime.get()).registration_open:
            raise Forbidden(t("注册已关闭,请联系管理员"))
        doc: dict[str, Any] = {"_id": new_id("usr"), "username": check_username(username),
               "email": normalize_email(email), "password_hash": None,
               "role": "user", "status": "active", "balance": 0, "token_version": 0,
               "created_at": utcnow(), "ledger_marks": {}}
        check_password(password)
        doc["password_hash"] = await self.hasher.hash(password)
        await self.store.insert(doc)
        return {k: v for k, v in doc.items() if k not in ("password_hash", "ledger_marks")}

    async def login(self, email: str, password: str, ip: str) -> tuple[str, dt.datetime, dict[str, Any]]:
        """A session for valid credentials; the same 401 for an unknown email or a wrong password."""
        email = unicodedata.normalize("NFC", email).strip().lower()[:320]
        ticket = await self.throttle.admit(email, ip)
        try:
            user = await self.store.get_by_email(email)
            ok = await self.hasher.verify(password, user.get("password_hash") if user else None)
        except BaseException:
            await self.throttle.abandoned(ticket)  # an error is not a wrong password
            raise
        if not ok or user is None:
            await self.throttle.failed(ticket)
            raise Unauthorized(BAD_CREDENTIALS)
        await self.throttle.succeeded(ticket)
        if user.get("status") != "active":
            raise Forbidden(t("账户已被禁用"))
        token, expires_at = self.sessions.issue(user)
        user.pop("password_hash", None)
        return token, expires_at, user

    def refresh(self, user: dict[str, Any]) -> tuple[str, dt.datetime]:
        """A fresh token for an authenticated user (the old one stays valid until it expires)."""
        return self.sessions.issue(user)

    async def change_password(self, user: dict[str, Any], old_password: str, new_password: str,
                              ip: str) -> tuple[str, dt.datetime]:
        """Replace the password and end every other session; returns a token for this one."""
        check_password(new_password, "new_password")
        full = await self.store.get_with_hash(user["_id"])
        if full is None:
            raise NotFound(t("用户不存在"))
        ticket = await self.throttle.admit(full["email"], ip)
        if not await self.hasher.verify(old_password, full.get("password_hash")):
            await self.throttle.failed(ticket)
            raise BadRequest(t("原密码不正确"), field="old_password")
        await self.throttle.succeeded(ticket)
        new_hash = await self.hasher.hash(new_password)
        updated = await self.store.set_password(user["_id"], new_hash, int(full.get("token_version", 0)))
        if updated is None:  # the password or sessions changed meanwhile
            raise Unauthorized(t("登录状态已变化,请重新登录"))
        return self.sessions.issue(updated)

    async def logout(self, user_id: str) -> None:
        """End every session of the user: tokens are stateless JWTs, so the only way to make a
        stolen or forgotten one worthless before it expires is to bump ``token_version``."""
        if await self.store.bump_token_version(user_id) is None:
            raise NotFound(t("用户不存在"))

    async def get(self, user_id: str) -> dict[str, Any]:
        """A user without secrets, or a 404."""
        user = await self.store.get(user_id)
        if user is None:
            raise NotFound(t("用户不存在"))
        return user
