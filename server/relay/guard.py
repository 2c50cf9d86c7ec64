"""What the forward loop asks about a request's opaque vendor context (encrypted reasoning and
compaction items, thinking signatures): which account to try, whether an upstream refusal of
that context is repairable, and what to remember afterwards.

``Proxy.relay`` calls a guard at four places only (prepare, choose, rejected/after_failure,
settle); ``server.relay.encrypted`` (Responses) and ``server.relay.thinking`` (Messages)
implement it. A repair rewrites ``ctx.body`` / ``ctx.body_bytes`` and is logged on the usage
row (``ctx.repairs``). An upstream refusal of opaque context is never the user's fault and
never cools the account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import orjson

from server.errors import RelayError

if TYPE_CHECKING:
    from server.pools.manager import PoolManager
    from server.pools.state import AccountState
    from server.relay.context import RelayContext


class ContextLost(RelayError):
    """The conversation carries context no account that can serve now is able to read."""

    status = 400
    type = "invalid_request_error"
    should_retry = False


class Guard:
    """The default: no opaque context; selection as usual."""

    scope = ""  # a separately rate-limited endpoint ("count_tokens"): its own rests apply (pools.select)

    def __init__(self, ctx: "RelayContext", pools: "PoolManager", max_attempts: int) -> None:
        self.ctx = ctx
        self.pools = pools
        self.max_attempts = max_attempts
        self.next_account: str | None = None  # a repair retries on this account, tried or not

    async def prepare(self, preferred: str | None) -> str | None:
        """The account the request should go to first (given the session binding)."""
        return preferred

    async def choose(self, group: str, tried: Iterable[str], preferred: str | None) -> "AccountState | None":
        forced = self._take_forced()
        if forced is not None:
            return forced
        return await self.pools.select(group, self.ctx.model, exclude=tried, sticky=preferred,
                                       scope=self.scope)

    def rejected(self, status: int, error_type: str, message: str) -> str | None:
        """A failure class if this upstream error is a refusal of the request's opaque context."""
        return None

    async def after_failure(self, kind: str, message: str, account: "AccountState") -> bool:
        """True if a repaired request should be tried again (on ``next_account``)."""
        return False

    async def settle(self, account: "AccountState") -> float | None:
        """After an answer: remember what must be remembered; the session binding's TTL (None:
        the plain ``sticky_ttl``)."""
        return None

    # -- helpers ---------------------------------------------------------------------------
    def _take_forced(self) -> "AccountState | None":
        if self.next_account is None:
            return None
        account = self.pools.accounts.get(self.next_account)
        self.next_account = None
        return account if account is not None and account.status == "healthy" else None

    def rewrite(self, field: str, value: Any, note: str) -> None:
        """Replace one top-level body field, re-serialise, and log the repair."""
        self.ctx.body = {**self.ctx.body, field: value}
        self.ctx.body_bytes = orjson.dumps(self.ctx.body)
        self.ctx.repairs.append(note)
