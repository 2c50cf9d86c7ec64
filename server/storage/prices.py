"""Price rules: the operator's in ``prices``, the catalogue's in ``price_catalogues``.

Operator document: ``{_id, pattern, input, output, cache_write_5m, cache_write_1h, cache_read,
web_search, explicit, source: "operator", review, placeholder, note, updated_at}`` (micro-units
per million tokens; ``web_search`` per thousand requests). Catalogue document: ``{_id: version,
entries, converted_at}``; the version in force is ``settings {_id: "price_catalogue", active}``,
so every process and machine prices with the same one. A relay upgrade brings a newer library:
its catalogue is converted and stored but applies only when an operator says so (``apply``).
Readers use an in-process snapshot refreshed after writes and every ``ttl`` seconds."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from pymongo.errors import DuplicateKeyError

from server.ids import new_id
from server.pricing import catalogue as cat
from server.pricing.pricing import PriceRule, find_rule, rule_from_doc
from server.refresh import Refresher
from server.storage.db import Storage
from server.storage.exact import exact
from server.storage.ledger import utcnow
from server.storage.price_migration import plan

log = logging.getLogger(__name__)
POINTER_ID = "price_catalogue"
Converter = Callable[[], Awaitable[dict[str, Any]]]


def rule_doc(rule: PriceRule) -> dict[str, Any]:
    return {"pattern": rule.pattern, **rule.prices(), "web_search": rule.web_search,
            "explicit": sorted(rule.explicit), "source": "operator", "review": rule.review,
            "placeholder": rule.placeholder, "note": rule.note}


class PriceStore:
    """Reads and writes price rules; lookups go through a short-lived snapshot."""

    def __init__(self, storage: Storage, ttl: float = 5.0) -> None:
        self.storage = storage
        self.ttl = ttl
        self._rules: list[PriceRule] = []
        self._operator: list[PriceRule] = []
        self._catalogue: list[PriceRule] = []
        self._catalogue_version: str | None = None
        self._found: dict[str, PriceRule | None] = {}
        self.pointer: dict[str, Any] = {}
        self.refresher = Refresher("prices", self._load, ttl)

    # -- start-up: catalogue, first apply, migration ---------------------------------------------
    async def prepare(self, converter: Converter = cat.convert_installed) -> None:
        """Store the installed catalogue (converted in a subprocess, once per version); on an
        install without one in force, apply it; migrate rules seeded before the catalogue."""
        installed = cat.installed_version()
        if installed is None:
            log.warning("%s is not installed: only operator price rules price requests", cat.LIBRARY)
        if installed is not None and await self.storage.collection("price_catalogues").find_one(
                {"_id": installed}, {"_id": 1}) is None:
            converted = await converter()
            try:
                await self.storage.collection("price_catalogues").insert_one(
                    {"_id": converted["version"], "entries": converted["entries"],
                     "converted_at": converted["converted_at"], "stored_at": utcnow()})
            except DuplicateKeyError:
                pass  # another process stored it first
        if installed is not None:
            await self.storage.collection("settings").update_one(
                {"_id": POINTER_ID}, {"$setOnInsert": {"active": installed, "applied_at": utcnow(),
                                                      "applied_by": "first start"}}, upsert=True)
        await self.migrate_legacy()
        await self.reload()

    seed_if_empty = prepare  # the name callers used before the catalogue

    async def migrate_legacy(self) -> dict[str, int]:
        """Rules without ``source`` predate the catalogue: unedited seeded ones go, the rest
        become operator rules (edited seeded ones flagged). Idempotent; safe in parallel."""
        counts = {"deleted": 0, "kept": 0}
        async for doc in self.storage.collection("prices").find({"source": {"$exists": False}}):
            action, fields = plan(doc)
            if action == "delete":
                result = await self.storage.collection("prices").delete_one(
                    {"_id": doc["_id"], "source": {"$exists": False}})
                counts["deleted"] += result.deleted_count
            else:
                await self.storage.collection("prices").update_one(
                    {"_id": doc["_id"], "source": {"$exists": False}}, {"$set": fields})
                counts["kept"] += 1
        if any(counts.values()):
            log.info("price rules from before the catalogue: %(deleted)d replaced, %(kept)d kept", counts)
        return counts

    # -- reading --------------------------------------------------------------------------------
    async def rules(self) -> list[PriceRule]:
        await self.refresher.ensure()
        return self._rules

    async def reload(self) -> None:
        await self.refresher.reload_now()

    async def _load(self) -> None:
        operator = [rule_from_doc(d) async for d in self.storage.collection("prices").find({})]
        pointer = await self.storage.collection("settings").find_one({"_id": POINTER_ID}) or {}
        active = pointer.get("active")
        if active != self._catalogue_version:
            catalogue = await self.storage.collection("price_catalogues").find_one({"_id": active})
            self._catalogue = cat.catalogue_rules(catalogue)
            self._catalogue_version = active
        self.pointer, self._operator = pointer, operator
        self._rules = operator + self._catalogue
        self._found = {}

    async def find(self, model: str) -> PriceRule | None:
        """The rule pricing ``model`` now, or None."""
        rules = await self.rules()
        if model not in self._found:
            if len(self._found) > 10_000:
                self._found.clear()
            self._found[model] = find_rule(rules, model)
        return self._found[model]

    async def catalogue_rules(self) -> list[PriceRule]:
        await self.refresher.ensure()
        return self._catalogue

    async def list_docs(self) -> list[dict[str, Any]]:
        """The operator's rules."""
        return [d async for d in self.storage.collection("prices").find({}).sort("pattern", 1)]

    async def catalogue_doc(self, version: str | None) -> dict[str, Any] | None:
        if version is None:
            return None
        return await self.storage.collection("price_catalogues").find_one({"_id": version})

    async def review(self) -> dict[str, Any]:
        """The catalogue in force, the one awaiting review, and what applying it would change
        (the price page and ``jiuliu prices status`` show the same)."""
        status = await self.status()
        changes: list[dict[str, Any]] = []
        if status["pending"]:
            changes = cat.diff(await self.catalogue_doc(status["active"]),
                           await self.catalogue_doc(status["pending"]))
        return {**status, "diff": changes}

    async def status(self) -> dict[str, Any]:
        """The version in force, the installed one, and whether a newer one awaits review."""
        pointer = await self.storage.collection("settings").find_one({"_id": POINTER_ID}) or {}
        installed = cat.installed_version()
        stored = installed is not None and await self.storage.collection("price_catalogues").find_one(
            {"_id": installed}, {"_id": 1}) is not None
        return {"active": pointer.get("active"), "applied_at": pointer.get("applied_at"),
                "applied_by": pointer.get("applied_by"), "installed": installed,
                "pending": installed if stored and installed != pointer.get("active") else None}

    # -- writing --------------------------------------------------------------------------------
    async def apply(self, version: str, by: str) -> bool:
        """Put a stored catalogue version in force (False: no such version stored)."""
        if await self.storage.collection("price_catalogues").find_one({"_id": version}, {"_id": 1}) is None:
            return False
        await self.storage.collection("settings").update_one(
            {"_id": POINTER_ID}, {"$set": {"active": version, "applied_at": utcnow(), "applied_by": by}},
            upsert=True)
        await self.reload()
        return True

    async def upsert(self, rule: PriceRule) -> dict[str, Any]:
        doc = {**rule_doc(rule), "updated_at": utcnow()}
        await self.storage.collection("prices").update_one(
            {"pattern": exact(rule.pattern)},
            {"$set": doc, "$setOnInsert": {"_id": new_id("price")}}, upsert=True)
        await self.reload()
        stored = await self.storage.collection("prices").find_one({"pattern": exact(rule.pattern)})
        assert stored is not None, "written just above"
        return stored

    async def delete(self, price_id: str) -> bool:
        result = await self.storage.collection("prices").delete_one({"_id": price_id})
        await self.reload()
        return result.deleted_count == 1
