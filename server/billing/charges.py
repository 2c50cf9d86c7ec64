"""Charging relayed requests: one usage row per request id and ONE ledger entry per user per
flush (the rows name it in ``ledger_id``; it carries their sum), so a flush costs about one
document write per request (server.storage.ledger describes the steps and their repair).

Exactly once per request id, whatever the grouping: the usage row is unique by request id and
names the one entry that charges it. A record that arrives again (a retried flush, a journal
replay in another batch, ``charge`` after ``charge_many``) finds its row and adds nothing to its
new entry; a retried flush re-uses the entry its records were given (``UsageRecord.batch``), so
rows written by the failed attempt are still summed by that entry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from server.ids import new_id
from server.pricing.money import PPM
from server.pricing.pricing import Cost, PriceRule, compute_cost
from server.pricing.usage import Usage
from server.storage.db import Storage
from server.storage.ledger import LedgerStore, make_flush_entry, utcnow
from server.storage.rollups import RollupStore


@dataclass
class UsageRecord:
    """Everything known about one relayed request when it ends."""

    request_id: str
    user_id: str
    key_id: str
    group: str
    model: str
    usage: Usage
    rule: PriceRule
    multiplier_ppm: int = PPM
    protocol: str = "anthropic"
    endpoint: str = ""
    stream: bool = False
    status: int = 200
    outcome: str = "ok"  # ok | error | client_abort | upstream_error
    error_class: str | None = None
    attempts: int = 1
    latency_ms: int = 0
    ttft_ms: int | None = None
    account_id: str | None = None
    account_name: str | None = None
    upstream_model: str | None = None
    upstream_request_id: str | None = None
    client_ip: str = ""
    user_agent: str = ""
    session_hash: str | None = None
    key_name: str = ""
    ts: dt.datetime = field(default_factory=utcnow)
    repairs: list[str] = field(default_factory=list)  # what the relay changed to keep a session alive
    hold: int = 0  # what admission held for this request: released once the charge is in
    batch: str | None = None  # the flush entry charging it, set by its first flush attempt
    _cost: Cost | None = field(default=None, repr=False, compare=False)
    # Set on records replayed from the usage journal (server/billing/journal.py): priced as stored.
    _base_cost: int | None = field(default=None, repr=False, compare=False)

    def base_cost(self) -> int:
        """The charge at list price (multiplier 1.0): what the upstream account costs."""
        if self._base_cost is not None:
            return self._base_cost
        if self.multiplier_ppm == PPM:
            return self.cost().total
        return compute_cost(self.usage, self.rule, PPM).total

    def cost(self) -> Cost:
        """The exact charge (computed once: metrics and the charge both need it)."""
        if self._cost is None:
            self._cost = compute_cost(self.usage, self.rule, self.multiplier_ppm)
        return self._cost


def ledger_id(request_id: str) -> str:
    """The per-request entry id of the ledger before flush entries (old rows still carry it)."""
    return "chg_" + request_id.replace(".", "_")


def usage_doc(record: UsageRecord, cost: Cost) -> dict[str, Any]:
    """The stored usage row: tokens by kind, the prices applied and the charge."""
    return {
        "_id": record.request_id, "request_id": record.request_id, "ts": record.ts,
        "user_id": record.user_id, "key_id": record.key_id, "key_name": record.key_name,
        "group": record.group, "model": record.model, "upstream_model": record.upstream_model,
        "protocol": record.protocol, "endpoint": record.endpoint, "stream": record.stream,
        "tokens": record.usage.as_dict(), "prices": cost.prices, "price_rule": cost.pattern,
        "multiplier_ppm": cost.multiplier_ppm, "cost": cost.total, "cost_parts": cost.parts,
        "base_cost": record.base_cost(), "pricing": cost.pricing(),
        "status": record.status, "outcome": record.outcome, "error_class": record.error_class,
        "attempts": record.attempts, "latency_ms": record.latency_ms, "ttft_ms": record.ttft_ms,
        "account_id": record.account_id, "account_name": record.account_name,
        "upstream_request_id": record.upstream_request_id, "client_ip": record.client_ip,
        "user_agent": record.user_agent[:300], "session_hash": record.session_hash,
        "ledger_id": record.batch if cost.total else None,
        # What the vendor bills beyond tokens, as the upstream reported it (issue 12).
        **record.usage.extras(),
        # A cut stream: the final usage never came, so these figures are an estimate.
        "estimated": record.usage.estimated, "estimate_method": record.usage.estimate or None,
        **({"repairs": record.repairs} if record.repairs else {}),
    }


class ChargeService:
    """Turns finished requests into ledger entries, usage rows and key counters."""

    def __init__(self, storage: Storage, ledger: LedgerStore, *,
                 on_exhausted: Callable[[str], None] | None = None,
                 settle: Callable[[list[UsageRecord]], Awaitable[None]] | None = None) -> None:
        self.storage = storage
        self.ledger = ledger
        self.rollups = RollupStore(storage)
        # Called with a user id whose balance a flush took to zero or below, so admission
        # caches (the key resolver's) stop admitting that user at once rather than after their TTL.
        self.on_exhausted = on_exhausted
        # Releases the admission holds of charged records (server.billing.holds).
        self.settle = settle

    async def charge(self, record: UsageRecord) -> dict[str, Any]:
        """Charge one request (a flush of one); a second call with the same request id is a no-op
        and returns the row written first."""
        docs = await self.charge_many([record])
        row = await self.ledger.usage_row(record.request_id)
        return row or docs[0]

    async def charge_many(self, records: list[UsageRecord]) -> list[dict[str, Any]]:
        """One flush: entry shells, usage rows, then per entry one balance move and one close;
        then key counters and roll-ups from the rows new now, then the holds' release."""
        # One record per request id: a journal replayed beside the live queue, or a retried
        # batch, may bring one twice, and two copies would share a fresh entry and both count.
        records = list({r.request_id: r for r in reversed(records)}.values())[::-1]
        fresh_batches: dict[str, str] = {}
        shells: dict[str, dict[str, Any]] = {}
        docs = []
        await self._leave_closed_entries(records)
        for record in records:
            cost = record.cost()
            if cost.total:
                if record.batch is None:
                    record.batch = fresh_batches.setdefault(record.user_id, new_id("bat"))
                if record.batch not in shells:
                    shells[record.batch] = make_flush_entry(record.batch, record.user_id, record.ts)
            docs.append(usage_doc(record, cost))
        await self.ledger.open_flush_entries(list(shells.values()))
        existed = await self.ledger.insert_usage_rows(docs)
        owners = await self.ledger.owners([docs[i]["_id"] for i in existed]) if existed else {}
        mine: dict[str, list[dict[str, Any]]] = {entry_id: [] for entry_id in shells}
        for index, doc in enumerate(docs):
            entry_id = records[index].batch if doc["cost"] else None
            if entry_id is None:
                continue
            if index in existed and owners.get(doc["_id"]) != entry_id:
                continue  # recorded before, by another entry: charged there, not again here
            mine[entry_id].append(doc)
        fresh = set(fresh_batches.values())
        for entry_id, rows in mine.items():
            user_id = shells[entry_id]["user_id"]
            models = {doc["model"] for doc in rows}
            meta = {"model": models.pop()} if len(models) == 1 else {}
            balance: int | None
            if entry_id not in fresh:
                # A retried batch's entry: an earlier attempt may have written rows naming it
                # (or closed it); its amount is what the rows that name it sum to.
                balance = await self.ledger.settle_flush_entry(entry_id, user_id, meta)
            elif not rows:
                await self.ledger.drop_flush_entry(entry_id)
                continue
            else:  # opened by this call: only this call's rows can name it
                amount = -sum(doc["cost"] for doc in rows)
                ref = rows[0]["_id"] if len(rows) == 1 else ""
                balance = await self.ledger.close_flush_entry(entry_id, user_id, amount, len(rows), ref, meta)
            if balance is not None and balance <= 0 and self.on_exhausted is not None:
                self.on_exhausted(user_id)
        await self._count([doc for i, doc in enumerate(docs) if i not in existed])
        if self.settle is not None:
            await self.settle(records)  # after the charge: balance − held is never too generous
        return docs

    async def _leave_closed_entries(self, records: list[UsageRecord]) -> None:
        """A retried record whose entry was closed without its row (repair after a long stall,
        or an earlier record of the batch charged alone) gets a fresh entry: the closed one is
        never moved again, so charging it there would lose the charge."""
        retried = sorted({r.batch for r in records if r.batch is not None})
        closed = await self.ledger.applied_entries(retried) if retried else set()
        if not closed:
            return
        recorded = await self.ledger.owners([r.request_id for r in records if r.batch in closed])
        for record in records:
            if record.batch in closed and record.request_id not in recorded:
                record.batch = None

    async def _count(self, docs: list[dict[str, Any]]) -> None:
        """Per-key running totals (usage, spend for quotas, last use) and the hourly/daily
        roll-ups, from rows inserted just now (a re-driven flush counts nothing twice)."""
        if docs:
            await self.rollups.add(docs)
        per_key: dict[str, dict[str, int]] = {}
        last: dict[str, float] = {}
        for doc in docs:
            inc = per_key.setdefault(doc["key_id"], {})
            inc["totals.requests"] = inc.get("totals.requests", 0) + 1
            inc["totals.cost"] = inc.get("totals.cost", 0) + doc["cost"]
            for kind, n in doc["tokens"].items():
                inc[f"totals.{kind}"] = inc.get(f"totals.{kind}", 0) + n
            used = doc["ts"].timestamp()  # epoch seconds: $max on numbers behaves alike everywhere
            last[doc["key_id"]] = max(last.get(doc["key_id"], used), used)
        for key_id, inc in per_key.items():
            await self.ledger.add_key_totals(key_id, inc, last[key_id])
