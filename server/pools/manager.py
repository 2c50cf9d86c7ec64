"""The pools: which account serves a request, and what an outcome does to an account.

Selection: among enabled, healthy, not-cooling accounts of the group that serve the model and
have capacity, the highest priority tier first, smooth weighted round-robin inside it (nginx's
algorithm: deterministic, spreads evenly, honours weights). A sticky account is preferred while
it is eligible. Health is passive (every outcome goes through the error rules) and active
(``probe`` asks ``GET /v1/models``; the scheduler calls ``probe_due``). Shared state lives in
the ``upstreams`` documents; each process refreshes its snapshot every ``refresh`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from fnmatch import fnmatchcase
from typing import Any, Callable, Iterable

from server.clock import Clock, WallClock
from server.pools.balance import choose
from server.pools.rules import (
    DEFAULT_RULES,
    TRANSPORT_STATUSES,
    ErrorRule,
    classify,
    reset_seconds,
    rule_from_dict,
)
from server.pools.state import AccountState
from server.pricing.pricing import find_rule
from server.refresh import Refresher
from server.storage.db import Storage
from server.storage.error_rules import ErrorRulesStore
from server.storage.upstreams import UpstreamStore
from server.upstream.client import forward_headers
from server.upstream.errors import UpstreamEncodingError
from server.upstream.failures import UPSTREAM_ERRORS, describe, exception_kind

log = logging.getLogger(__name__)

# Offered by /v1/models for accounts without an explicit allow-list.
KNOWN_MODELS = {
    "anthropic": ("claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-4-6",
                  "claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-5-haiku-20241022"),
    "openai": ("gpt-5.4", "gpt-5.4-mini", "gpt-5-codex"),
}


class PoolManager:
    """Per-process pool state over the shared ``upstreams`` collection."""

    def __init__(self, storage: Storage, upstreams: UpstreamStore, refresh: float = 2.0,
                 observer: Callable[[str, bool, str | None, str], None] | None = None,
                 clock: WallClock | None = None) -> None:
        self.clock: WallClock = clock or Clock()  # cooldowns and each account's recent outcomes
        self.error_rules = ErrorRulesStore(storage)
        self.upstreams = upstreams
        self.refresh = refresh
        self.accounts: dict[str, AccountState] = {}
        self.rules: tuple[ErrorRule, ...] = DEFAULT_RULES
        self._loaded_version = -1
        # Other processes' changes (cooldowns, edits) arrive every ``refresh`` seconds, read ahead.
        self.refresher = Refresher("upstream accounts", self._load, refresh)
        # Optional metrics hook: (account name, ok, error class, action) of each attempt.
        self.observer = observer

    # -- snapshot -------------------------------------------------------------------------
    async def ensure_fresh(self) -> None:
        for _ in range(2):  # the second pass: we joined a reload that began before this process's edit
            if self._loaded_version == self.upstreams.version:
                break
            await self.refresher.reload_now()
        await self.refresher.ensure()

    async def reload(self) -> None:
        await self.refresher.reload_now()

    async def _load(self) -> None:
        version = self.upstreams.version
        docs = await self.upstreams.list()
        fresh: dict[str, AccountState] = {}
        for doc in docs:
            state = self.accounts.get(doc["_id"])
            if state is None:
                state = AccountState(doc, clock=self.clock)
            else:
                state.doc = doc
            fresh[doc["_id"]] = state
        self.accounts = fresh
        self.rules = await self._load_rules()
        self._loaded_version = version

    async def _load_rules(self) -> tuple[ErrorRule, ...]:
        stored = await self.error_rules.stored()
        if not stored:
            return DEFAULT_RULES
        rules = []
        for item in stored:
            try:
                rules.append(rule_from_dict(item))
            except ValueError as exc:
                log.error("ignoring invalid error rule %r: %s", item, exc)
        return tuple(rules) or DEFAULT_RULES

    # -- selection ------------------------------------------------------------------------
    def eligible(self, group: str, model: str, exclude: Iterable[str] = (),
                 scope: str = "") -> list[AccountState]:
        excluded = set(exclude)
        return [a for a in self.accounts.values()
                if a.id not in excluded and a.status == "healthy" and a.serves(group, model)
                and a.has_capacity() and not (scope and a.scope_cooling(scope))]

    async def select(self, group: str, model: str, exclude: Iterable[str] = (),
                     sticky: str | None = None, scope: str = "") -> AccountState | None:
        """The account for the next attempt, or None if the pool has nobody left. ``scope``
        names a separately limited endpoint (``count_tokens``) whose own cooldowns apply."""
        await self.ensure_fresh()
        return choose(self.eligible(group, model, exclude, scope), sticky)

    async def served_models(self, group: str | None = None) -> set[str]:
        """Model names the group's accounts (every account: ``None``) offer: their literal
        allow-lists, or the known models of their protocol."""
        await self.ensure_fresh()
        names: set[str] = set()
        accounts = self.accounts.values() if group is None else self.group_accounts(group)
        for account in accounts:
            listed = [m for m in account.doc.get("models") or [] if not any(c in m for c in "*?[")]
            names.update(listed or KNOWN_MODELS.get(account.doc.get("protocol", ""), ()))
        return names

    async def models_for(self, group: str, rules: list, key_allow: list[str]) -> list[str]:
        """Model names the group can serve: accounts' literal allow-lists or the catalogue,
        priced, and inside the key's own allow-list."""
        names = await self.served_models(group)
        return sorted(m for m in names if find_rule(rules, m) is not None
                      and (not key_allow or any(fnmatchcase(m, p) for p in key_allow)))

    def group_accounts(self, group: str) -> list[AccountState]:
        return [a for a in self.accounts.values() if group in (a.doc.get("groups") or [])]

    # -- outcomes -------------------------------------------------------------------------
    async def report_success(self, account: AccountState, latency_ms: float, ttft_ms: float | None) -> None:
        account.record(True, latency_ms, ttft_ms, None)
        if self.observer is not None:
            self.observer(account.name, True, None, "")

    async def report_failure(self, account: AccountState, status: str, error_type: str = "",
                             message: str = "", headers: dict[str, str] | None = None,
                             phase: str = "before", latency_ms: float = 0.0, scope: str = "") -> ErrorRule:
        """Classify a failure, apply its action to the account, and return the rule.

        ``scope``: a 429 of a separately limited endpoint (``count_tokens``) rests the account
        for that endpoint only (in this process), never for messages."""
        rule = classify(self.rules, status, error_type, message, phase)
        error_class = f"{status}:{error_type}" if error_type else status
        account.record(rule.action == "pass", latency_ms, None,
                       None if rule.action == "pass" else error_class)
        if self.observer is not None:
            self.observer(account.name, rule.action == "pass", error_class, rule.action)
        if rule.action in ("pass", "retry"):
            return rule
        reason = f"{status} {error_type} {message}".strip()[:300]
        if rule.action == "disable":
            await self._set(account, "disabled", f"disabled after {reason}", 0.0)
        else:
            seconds = rule.seconds
            if rule.action == "cooldown_reset":
                found = reset_seconds(headers or {}, self.clock.now())
                seconds = rule.seconds if found is None else found
            until = self.clock.now() + seconds
            if scope and status == "429":
                account.scope_until[scope] = max(account.scope_until.get(scope, 0.0), until)
                log.warning("upstream %s: %s on %s → rests %.0f s for %s only", account.name,
                            error_class, scope, seconds, scope)
                return rule
            state = account.doc.get("state") or {}
            kind = "transport" if status in TRANSPORT_STATUSES else "status"
            if state.get("status") == "cooling" and state.get("cooldown_until", 0) > until:
                # A shorter cooldown never cuts a longer one short (a probe's 500 during a
                # 429's reset window); the longer one's kind stays too.
                until, kind = state["cooldown_until"], state.get("kind") or "status"
            await self._set(account, "cooling", reason, until, kind)
        log.warning("upstream %s: %s → %s", account.name, error_class, rule.action)
        return rule

    def note_slow(self, account: AccountState, latency_ms: float, error_class: str) -> None:
        """An answer that did not come in the client's time: counted, never blamed (no
        cooldown: a slow generation says nothing about the account's health)."""
        account.record(False, latency_ms, None, error_class)
        if self.observer is not None:
            self.observer(account.name, False, error_class, "none")

    async def _set(self, account: AccountState, status: str, reason: str, until: float,
                   kind: str = "") -> None:
        account.doc["state"] = {"status": status, "reason": reason, "cooldown_until": until,
                                "since": self.clock.now(), "kind": kind}
        await self.upstreams.set_state(account.id, status, reason, until, kind)
        self._loaded_version = self.upstreams.version  # our own write is already applied locally

    async def mark_healthy(self, account: AccountState) -> None:
        """A success ends an *expired* cooldown early; it never lifts a running cooldown or an
        operator's (or a 401/403's) disable: a long stream that started before an account was
        rate-limited or revoked must not put it back in rotation."""
        state = account.doc.get("state") or {}
        if state.get("status") != "cooling" or state.get("cooldown_until", 0) > self.clock.now():
            return
        if await self.upstreams.end_cooldown(account.id):
            account.doc["state"] = {"status": "healthy", "reason": "", "cooldown_until": 0.0,
                                    "since": self.clock.now()}

    async def _end_transport_cooldown(self, account: AccountState) -> None:
        """A successful probe proves the transport works: it ends a cooldown that a transport
        error caused (or one already over), never one with a reset time the upstream or a rule
        set (a 429's ``retry-after``, an overload's rest), nor a disable."""
        state = account.doc.get("state") or {}
        if state.get("status") != "cooling":
            return
        if await self.upstreams.end_cooldown(account.id, transport_early=True):
            account.doc["state"] = {"status": "healthy", "reason": "", "cooldown_until": 0.0,
                                    "since": self.clock.now()}

    def live_view(self, account: AccountState) -> dict[str, Any]:
        state = account.doc.get("state") or {}
        return {"status": account.status, "reason": state.get("reason", ""),
                "cooldown_until": state.get("cooldown_until") or None, "inflight": account.inflight,
                "last_error": account.last_error, "stats_5m": account.stats(300),
                "stats_1h": account.stats(3600)}

    # -- active health ---------------------------------------------------------------------
    async def probe(self, account_id: str, client: Any, timeout: float = 10.0,
                    by_operator: bool = False) -> dict[str, Any]:
        """One ``GET {base_url}/v1/models`` with the account's credentials; a failure goes
        through the error rules like a relayed one. A success ends a transport-error cooldown
        (never one with a reset time); an operator's own test also lifts a rule's disable (a
        401 after the key was fixed), never a running cooldown."""
        await self.ensure_fresh()
        account = self.accounts.get(account_id)
        if account is None:
            await self.reload()
            account = self.accounts.get(account_id)
        if account is None:
            return {"ok": False, "status": None, "latency_ms": None, "error": "no such account"}
        doc = account.doc
        headers = forward_headers({}, doc.get("protocol", "anthropic"), doc.get("api_key", ""))
        headers.pop("content-type", None)
        url = doc["base_url"].rstrip("/") + "/v1/models"
        started = time.monotonic()
        status: str
        error = ""
        http_status: int | None = None
        try:
            # Through the account's own proxy, like its relayed calls.
            response = await asyncio.wait_for(
                client.request("GET", url, headers, proxy=client.proxy_for(doc)), timeout)
            try:
                http_status = response.status
                body = await asyncio.wait_for(response.read(), timeout)
            finally:
                response.release()
            status = str(http_status)
            if http_status >= 400:
                error = body[:300].decode("utf-8", "replace")
        except UpstreamEncodingError as exc:  # an answer it cannot decode: no verdict on the account
            status, error = "encoding", str(exc)
        except UPSTREAM_ERRORS as exc:
            status, error = exception_kind(exc), describe(exc)
        latency = round((time.monotonic() - started) * 1000, 1)
        ok = http_status is not None and http_status < 400
        if ok and by_operator and (account.doc.get("state") or {}).get("status") == "disabled":
            await self._set(account, "healthy", "", 0.0)
        elif ok:
            await self._end_transport_cooldown(account)
        elif status != "encoding":
            await self.report_failure(account, status, "", error, phase="before", latency_ms=latency)
        return {"ok": ok, "status": http_status, "latency_ms": latency, "error": error or None}
