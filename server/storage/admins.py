"""Operator-only writes to ``users`` that ``UserStore`` does not offer: promotion to admin
(ending the user's sessions, as any role change must)."""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument

from server.errors import NotFound
from server.i18n import t
from server.storage.db import Storage
from server.storage.users import PUBLIC


class AdminUserStore:
    """Role changes of user documents."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def promote(self, user_id: str, password_hash: str | None = None) -> dict[str, Any]:
        """Make ``user_id`` an active admin (optionally with a new password); sessions end."""
        changes: dict[str, Any] = {"role": "admin", "status": "active"}
        if password_hash:
            changes["password_hash"] = password_hash
        user = await self.storage.collection("users").find_one_and_update(
            {"_id": user_id}, {"$set": changes, "$inc": {"token_version": 1}},
            projection=PUBLIC, return_document=ReturnDocument.AFTER)
        if user is None:
            raise NotFound(t("用户不存在"))
        return user
