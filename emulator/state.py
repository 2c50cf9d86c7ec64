"""The emulator's whole mutable state: accounts, counters, captured requests, prompt caches.

One ``EmulatorState`` per app, handed to every handler; nothing lives at module level, so
several emulators can run side by side in one process (tests, demo, benchmarks).
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Iterable

from emulator.accounts import EmulatorAccount, KnobError, validate_knobs
from emulator.usage import PromptCache

HISTORY_SIZE = 2000


@dataclass(slots=True)
class RequestRecord:
    """One authenticated API request, as the emulator saw it."""

    account: str  # account name
    protocol: str  # "anthropic" | "openai"
    path: str
    stream: bool
    fault: str | None  # the fault applied, if any


class EmulatorState:
    """Accounts by key and name, per-account counters, last requests and prompt caches."""

    def __init__(self, accounts: Iterable[EmulatorAccount]) -> None:
        self.accounts: dict[str, EmulatorAccount] = {}
        self.by_name: dict[str, EmulatorAccount] = {}
        for account in accounts:
            if account.api_key in self.accounts or account.name in self.by_name:
                raise KnobError(f"duplicate emulator account {account.name!r}")
            self.accounts[account.api_key] = account
            self.by_name[account.name] = account
        self._initial = {a.name: copy.copy(a) for a in self.accounts.values()}
        self.requests: Counter[str] = Counter()  # account name -> authenticated API requests
        self.faults: dict[str, Counter[str]] = {}  # account name -> fault -> times applied
        self.last_request: dict[str, dict[str, Any]] = {}  # account name -> request seen
        self.history: deque[RequestRecord] = deque(maxlen=HISTORY_SIZE)
        self.unauthorized = 0
        self.inflight = 0  # API requests being answered right now (streams included)
        self._idle = asyncio.Event()
        self._idle.set()
        self.anthropic_caches: dict[str, PromptCache] = {}
        self.responses_caches: dict[str, PromptCache] = {}

    def begin(self) -> None:
        """An API request starts being answered."""
        self.inflight += 1
        self._idle.clear()

    def end(self) -> None:
        """An API request is done (answered, failed, or its client left)."""
        self.inflight -= 1
        if self.inflight == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Until no request is being answered (tests: a stalled handler noticed its client left)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    def find(self, key_or_name: str) -> EmulatorAccount | None:
        """An account by API key or by name."""
        return self.accounts.get(key_or_name) or self.by_name.get(key_or_name)

    def anthropic_cache(self, name: str) -> PromptCache:
        """The account's Anthropic prefix cache."""
        cache = self.anthropic_caches.get(name)
        if cache is None:
            cache = self.anthropic_caches[name] = PromptCache()
        return cache

    def responses_cache(self, name: str) -> PromptCache:
        """The account's Responses ``prompt_cache_key`` cache."""
        cache = self.responses_caches.get(name)
        if cache is None:
            cache = self.responses_caches[name] = PromptCache()
        return cache

    def record(self, account: EmulatorAccount, protocol: str, request: Any, body: Any,
               stream: bool, fault: str | None) -> None:
        """Count a request and keep it as the account's last one (headers and body, by reference)."""
        name = account.name
        self.requests[name] += 1
        if fault is not None:
            self.faults.setdefault(name, Counter())[fault] += 1
        self.last_request[name] = {"method": request.method, "path": request.path,
                                   "query": request.query, "headers": request.headers, "body": body,
                                   "raw": request.body}
        self.history.append(RequestRecord(name, protocol, request.path, stream, fault))

    def patch(self, key_or_name: str, values: dict[str, Any]) -> EmulatorAccount:
        """Set knobs on an account (KeyError if unknown, KnobError if invalid)."""
        account = self.find(key_or_name)
        if account is None:
            raise KeyError(key_or_name)
        for key, value in validate_knobs(values).items():
            setattr(account, key, value)
        return account

    def reset(self, knobs: bool = False) -> None:
        """Clear counters, captured requests and caches; with ``knobs`` restore initial knobs."""
        self.requests.clear()
        self.faults.clear()
        self.last_request.clear()
        self.history.clear()
        self.unauthorized = 0
        self.anthropic_caches.clear()
        self.responses_caches.clear()
        if knobs:
            for name, initial in self._initial.items():
                account = self.by_name[name]
                for key, value in initial.knobs().items():
                    setattr(account, key, value)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view of accounts and counters for ``GET /_emulator/accounts``."""
        return {
            "accounts": [
                {**a.public(), "requests": self.requests.get(a.name, 0),
                 "faults": dict(self.faults.get(a.name, {}))}
                for a in self.accounts.values()
            ],
            "unauthorized": self.unauthorized,
        }
