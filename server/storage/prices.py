"""Price rules in the ``prices`` collection, seeded from ``config/prices.toml`` at first start.

Document: ``{_id, pattern, input, output, cache_write_5m, cache_write_1h, cache_read,
placeholder, note, updated_at}``, prices in micro-units per million tokens. Readers use an
in-process snapshot refreshed after writes and every ``ttl`` seconds (other processes' edits)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from server.billing.money import to_micro
from server.billing.pricing import PriceRule, find_rule, rule_from_doc
from server.ids import new_id
from server.refresh import Refresher
from server.storage.db import Storage
from server.storage.exact import exact
from server.storage.ledger import utcnow

SEED_FILE = Path(__file__).resolve().parent.parent.parent / "config" / "prices.toml"


def seed_rules(path: Path = SEED_FILE) -> list[PriceRule]:
    """The shipped default rules."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    rules = []
    for item in data.get("price", []):
        money = {k: to_micro(item[k]) for k in ("input", "output", "cache_write_5m", "cache_write_1h",
                                                "cache_read") if k in item}
        rules.append(PriceRule.build(item["pattern"], placeholder=item.get("placeholder", False),
                                     note=item.get("note", ""), **money))
    return rules


def rule_doc(rule: PriceRule) -> dict[str, Any]:
    return {"pattern": rule.pattern, **rule.prices(), "placeholder": rule.placeholder, "note": rule.note}


class PriceStore:
    """Reads and writes price rules; lookups go through a short-lived snapshot."""

    def __init__(self, storage: Storage, ttl: float = 5.0) -> None:
        self.storage = storage
        self.ttl = ttl
        self._rules: list[PriceRule] = []
        self.refresher = Refresher("prices", self._load, ttl)

    async def seed_if_empty(self) -> None:
        """First start: write the shipped rules (never overwrites an operator's edits)."""
        if await self.storage.count("prices", {}) == 0:
            for rule in seed_rules():
                await self.upsert(rule)

    async def rules(self) -> list[PriceRule]:
        await self.refresher.ensure()
        return self._rules

    async def reload(self) -> None:
        await self.refresher.reload_now()

    async def _load(self) -> None:
        self._rules = [rule_from_doc(d) async for d in self.storage.prices.find({})]

    async def find(self, model: str) -> PriceRule | None:
        """The rule pricing ``model`` now, or None."""
        return find_rule(await self.rules(), model)

    async def list_docs(self) -> list[dict[str, Any]]:
        return [d async for d in self.storage.prices.find({}).sort("pattern", 1)]

    async def upsert(self, rule: PriceRule) -> dict[str, Any]:
        doc = {**rule_doc(rule), "updated_at": utcnow()}
        await self.storage.prices.update_one({"pattern": exact(rule.pattern)},
                                             {"$set": doc, "$setOnInsert": {"_id": new_id("price")}},
                                             upsert=True)
        await self.reload()
        return await self.storage.prices.find_one({"pattern": exact(rule.pattern)})

    async def delete(self, price_id: str) -> bool:
        result = await self.storage.prices.delete_one({"_id": price_id})
        await self.reload()
        return result.deleted_count == 1
