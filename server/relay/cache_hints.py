"""How much of a cut Responses stream's input was probably a prompt-cache read.

A Responses stream cut before ``response.completed`` reports no usage at all, so its input is
estimated from the request body (``server/pricing/estimate.py``). Billing all of it as uncached
input would overcharge a Codex turn roughly tenfold: Codex sends ``prompt_cache_key`` and most of
each turn's prompt is the previous turn's, which the vendor bills at the cached rate. So the
relay remembers, per upstream account and ``prompt_cache_key``, the input the upstream last
reported for that key; a cut stream with the same key then counts up to that many of its
estimated input tokens as cache reads — the same rule the emulator caches by. In-process and
bounded: after a restart, in another worker, or past the TTL a cut turn is billed as uncached."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable

TTL = 300.0  # seconds: the vendor's in-memory prompt-cache retention (5–10 minutes)
MAX_ENTRIES = 10_000


def cache_key_of(body: Any) -> str | None:
    key = body.get("prompt_cache_key") if isinstance(body, dict) else None
    return key if isinstance(key, str) and key else None


class CacheHints:
    """(account id, prompt_cache_key) → the input tokens the upstream last reported."""

    def __init__(self, ttl: float = TTL, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def remember(self, account_id: str, body: Any, input_tokens: int) -> None:
        """A finished Responses call reported ``input_tokens`` (cached or not) for its key."""
        key = cache_key_of(body)
        if key is None or input_tokens <= 0:
            return
        self._entries[(account_id, key)] = (input_tokens, self.clock() + self.ttl)
        self._entries.move_to_end((account_id, key))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def cached(self, account_id: str, body: Any) -> int:
        """Input tokens of a new request with the same key that were probably cached (0: none)."""
        key = cache_key_of(body)
        entry = self._entries.get((account_id, key)) if key is not None else None
        if entry is None or key is None:
            return 0
        if entry[1] <= self.clock():
            del self._entries[(account_id, key)]
            return 0
        return entry[0]
