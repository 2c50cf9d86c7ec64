"""The ``users`` collection, the only code that reads or writes it (besides ``LedgerStore``,
which alone moves ``balance`` and ``ledger_marks``). Document::

    {_id: "usr_…", username, email (stripped, lower-case), password_hash,
     role: "user" | "admin", status: "active" | "disabled", balance: int micro-units,
     token_version: int, created_at, ledger_marks: {}}
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.errors import Conflict
from server.i18n import t
from server.storage.db import Storage
from server.storage.exact import exact

# What services and handlers see: never the hash, never the ledger's idempotency marks.
PUBLIC = {"password_hash": 0, "ledger_marks": 0}
NO_MARKS = {"ledger_marks": 0}
ROLES = ("user", "admin")
STATUSES = ("active", "disabled")


def conflict_field(exc: DuplicateKeyError, fields: tuple[str, ...]) -> str | None:
    """Which unique field a duplicate-key error is about (MongoDB and nx-27017 phrase it differently)."""
    details = exc.details or {}
    pattern = details.get("keyPattern") or details.get("keyValue") or {}
    for name in fields:
        if name in pattern:
            return name
    message = str(details.get("errmsg") or exc)
    for name in fields:
        if f"_{name}" in message or f"{name}_" in message or f" {name}" in message:
            return name
    return None


class UserStore:
    """Reads and writes user documents."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def insert(self, doc: dict[str, Any]) -> None:
        """Insert a new user; a taken email or username is a 409 naming the field."""
        try:
            await self.storage.collection("users").insert_one(doc)
        except DuplicateKeyError as exc:
            field = conflict_field(exc, ("email", "username"))
            if field is None:  # the message did not say: ask the collection
                field = "email" if await self.storage.collection("users").find_one(
                    {"email": exact(doc["email"])}, {"_id": 1}) else "username"
            message = t("该邮箱已被注册") if field == "email" else t("该用户名已被使用")
            raise Conflict(message, field=field) from None

    async def get(self, user_id: str) -> dict[str, Any] | None:
        """A user without secrets, or None."""
        return await self.storage.collection("users").find_one({"_id": user_id}, PUBLIC)

    async def get_with_hash(self, user_id: str) -> dict[str, Any] | None:
        """A user including ``password_hash`` (password checks only)."""
        return await self.storage.collection("users").find_one({"_id": user_id}, NO_MARKS)

    async def get_by_email(self, email: str) -> dict[str, Any] | None:
        """A user by normalised email, including ``password_hash`` (login only)."""
        return await self.storage.collection("users").find_one({"email": exact(email)}, NO_MARKS)

    async def set_password(self, user_id: str, password_hash: str,
                           token_version: int) -> dict[str, Any] | None:
        """Replace the hash and bump ``token_version`` if no other change got there first."""
        return await self.storage.collection("users").find_one_and_update(
            {"_id": user_id, "token_version": token_version},
            {"$set": {"password_hash": password_hash}, "$inc": {"token_version": 1}},
            projection=PUBLIC, return_document=ReturnDocument.AFTER)

    async def bump_token_version(self, user_id: str) -> dict[str, Any] | None:
        """End every session of a user (logout everywhere, disable, role change)."""
        return await self.storage.collection("users").find_one_and_update(
            {"_id": user_id}, {"$inc": {"token_version": 1}},
            projection=PUBLIC, return_document=ReturnDocument.AFTER)

    async def set_status(self, user_id: str, status: str) -> dict[str, Any] | None:
        """Enable or disable a user (operator API); disabling also ends their sessions."""
        if status not in STATUSES:
            raise ValueError(f"unknown user status {status!r}")
        update: dict[str, Any] = {"$set": {"status": status}}
        if status == "disabled":
            update["$inc"] = {"token_version": 1}
        return await self.storage.collection("users").find_one_and_update(
            {"_id": user_id}, update, projection=PUBLIC, return_document=ReturnDocument.AFTER)

    async def set_overdraft(self, user_id: str, amount: int | None) -> dict[str, Any] | None:
        """The operator's credit line for one user in micro-units (None: back to the default)."""
        update: dict[str, Any] = ({"$set": {"overdraft": amount}} if amount is not None
                                  else {"$unset": {"overdraft": ""}})
        return await self.storage.collection("users").find_one_and_update(
            {"_id": user_id}, update, projection=PUBLIC, return_document=ReturnDocument.AFTER)

    async def list(self, limit: int, offset: int,
                   query: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], int]:
        """Users, newest first, and their count (operator API)."""
        query = query or {}
        users = self.storage.collection("users")
        cursor = users.find(query, PUBLIC).sort("_id", -1).skip(offset).limit(limit)
        return [u async for u in cursor], await self.storage.count("users", query)
