"""The ``groups`` collection: which protocol a key's requests speak and the price multiplier
applied to them. Document::

    {_id: name, name, protocol: "anthropic" | "openai", multiplier_ppm: int (1_000_000 = 1.0),
     description, created_at}

Groups are few and read on every relayed request, so readers use an in-process snapshot of
all of them, refreshed after local writes and every ``ttl`` seconds (other processes' edits).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from pymongo.errors import DuplicateKeyError

from server.errors import BadRequest, Conflict
from server.i18n import either, t
from server.pricing.money import PPM
from server.refresh import Refresher
from server.storage.db import Storage
from server.storage.ledger import utcnow

PROTOCOLS = ("anthropic", "openai")
DEFAULT_GROUPS: tuple[dict[str, Any], ...] = (
    {"name": "claude", "protocol": "anthropic", "description": "Claude 系列模型(Anthropic 协议)"},
    {"name": "codex", "protocol": "openai", "description": "Codex / GPT 系列模型(OpenAI Responses 协议)"},
)


def group_doc(name: str, protocol: str, multiplier_ppm: int = PPM, description: str = "") -> dict[str, Any]:
    """A new group document, validated."""
    if protocol not in PROTOCOLS:
        raise BadRequest(t("protocol 必须是 {choices}", choices=either(PROTOCOLS)), field="protocol")
    if not isinstance(multiplier_ppm, int) or isinstance(multiplier_ppm, bool) or multiplier_ppm < 0:
        raise BadRequest(t("multiplier 必须是非负数"), field="multiplier")
    return {"_id": name, "name": name, "protocol": protocol, "multiplier_ppm": multiplier_ppm,
            "description": description, "created_at": utcnow()}


class GroupStore:
    """Reads (through a short-lived snapshot) and writes groups."""

    def __init__(self, storage: Storage, ttl: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.storage = storage
        self.ttl = ttl
        self._monotonic = monotonic
        self._groups: dict[str, dict[str, Any]] = {}
        self.refresher = Refresher("groups", self._load, ttl, monotonic=monotonic)

    async def seed_defaults(self) -> None:
        """First start: create ``claude`` and ``codex`` (existing groups are left alone)."""
        for spec in DEFAULT_GROUPS:
            try:
                await self.storage.collection("groups").insert_one(group_doc(**spec))
            except DuplicateKeyError:
                pass
        await self.reload()

    async def reload(self) -> None:
        """Read every group now (after a write, or when the snapshot is stale)."""
        await self.refresher.reload_now()

    async def _load(self) -> None:
        self._groups = {g["_id"]: g async for g in self.storage.collection("groups").find({})}

    async def _snapshot(self) -> dict[str, dict[str, Any]]:
        await self.refresher.ensure()
        return self._groups

    async def get(self, name: str) -> dict[str, Any] | None:
        """The group called ``name`` (at most ``ttl`` seconds old), or None."""
        return (await self._snapshot()).get(name)

    async def list(self) -> list[dict[str, Any]]:
        """Every group, by name."""
        return sorted((await self._snapshot()).values(), key=lambda g: g["name"])

    async def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Insert a group built by ``group_doc`` (operator API); a taken name is a 409."""
        try:
            await self.storage.collection("groups").insert_one(doc)
        except DuplicateKeyError:
            raise Conflict(t("分组已存在"), field="name") from None
        await self.reload()
        return doc

    async def update(self, name: str, **changes: Any) -> dict[str, Any] | None:
        """Change ``protocol``, ``multiplier_ppm`` or ``description`` of a group (operator API)."""
        allowed = {k: v for k, v in changes.items() if k in ("protocol", "multiplier_ppm", "description")}
        if "protocol" in allowed and allowed["protocol"] not in PROTOCOLS:
            raise BadRequest(t("protocol 必须是 {choices}", choices=either(PROTOCOLS)), field="protocol")
        if allowed:
            await self.storage.collection("groups").update_one({"_id": name}, {"$set": allowed})
        await self.reload()
        return self._groups.get(name)

    async def delete(self, name: str) -> bool:
        """Remove a group (operator API); keys naming it are then refused by the relay."""
        result = await self.storage.collection("groups").delete_one({"_id": name})
        await self.reload()
        return result.deleted_count == 1
