"""Usage records the database refused, for operators: listed from the durable set-aside file
(``server/billing/journal.py``) and re-driven on request. A re-drive charges each record alone
(idempotent by request id: one already charged changes nothing) and keeps the ones that fail
again, with their new error."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from server.billing.charges import ChargeService
from server.billing.journal import UsageJournal, from_entry

log = logging.getLogger(__name__)


def summary(entry: dict[str, Any]) -> dict[str, Any]:
    """What an operator needs to see of one set-aside record."""
    doc = entry.get("doc") or {}
    return {"request_id": doc.get("request_id"), "ts": doc.get("ts"), "user_id": doc.get("user_id"),
            "key_name": doc.get("key_name"), "group": doc.get("group"), "model": doc.get("model"),
            "cost": doc.get("cost"), "tokens": doc.get("tokens"), "error": entry.get("error", ""),
            "set_aside_at": entry.get("set_aside_at")}


class SetAsideService:
    """The records this machine set aside (every worker's), and their re-drive."""

    def __init__(self, journal: UsageJournal | None, charges: ChargeService) -> None:
        self.journal = journal
        self.charges = charges

    async def list(self, limit: int = 100) -> dict[str, Any]:
        if self.journal is None:
            return {"data": [], "total": 0}
        entries = await asyncio.to_thread(self.journal.set_aside_entries)
        return {"data": [summary(e) for e in entries[-limit:]][::-1], "total": len(entries)}

    async def redrive(self) -> dict[str, Any]:
        """Charge every set-aside record again; returns how many were written and how many remain."""
        if self.journal is None:
            return {"written": 0, "failed": 0, "errors": []}
        entries = await asyncio.to_thread(self.journal.set_aside_entries)
        charged: set[str] = set()
        refused: dict[str, dict[str, Any]] = {}
        try:
            for entry in entries:
                request_id = str(entry.get("doc", {}).get("request_id", ""))
                try:
                    await self.charges.charge_many([from_entry(entry)])
                    charged.add(request_id)
                except Exception as exc:  # noqa: BLE001 - kept with its new error
                    refused[request_id] = {**entry, "error": f"{type(exc).__name__}: {exc}"[:500],
                                           "set_aside_at": dt.datetime.now(dt.UTC).isoformat()}
        finally:  # cancelled midway: what was not charged stays, as it was
            await asyncio.to_thread(self.journal.resolve_set_aside, charged, refused)
        written, kept = len(charged), list(refused.values())
        if written:
            log.warning("set-aside usage: %d records re-driven and charged, %d still refused",
                        written, len(kept))
        return {"written": written, "failed": len(kept), "errors": sorted({e["error"] for e in kept})[:5]}
