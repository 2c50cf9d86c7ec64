"""Session stickiness: keep one conversation on one account while the prompt cache is warm.

The session key comes from what clients send: Claude Code's ``X-Claude-Code-Session-Id`` or
the ``session_id`` inside ``metadata.user_id``; OpenCode's ``x-session-affinity``; Codex's
``prompt_cache_key`` or ``session-id``;
otherwise a hash of key id + system prompt + first message. Mappings are shared by every relay
process (``sticky`` collection) with an in-process cache; the TTL is renewed on use, written
back only when half of it has passed, so a busy session costs no write per turn. Expiry is
epoch seconds (a number), which compares the same on MongoDB and nx-27017."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import orjson

from server.clock import Clock, WallClock
from server.storage.db import Storage
from server.storage.sticky import StickyRows


def session_key(protocol: str, headers: Mapping[str, str], body: Mapping[str, Any], key_id: str) -> str:
    """A stable hash naming the conversation, scoped to the API key."""
    raw = ""
    if protocol == "anthropic":
        raw = headers.get("x-claude-code-session-id", "")
        if not raw:
            raw = _metadata_session(body.get("metadata"))
        if not raw:
            raw = headers.get("x-session-affinity", "")  # OpenCode (AI SDK): one id per session
    else:
        raw = str(body.get("prompt_cache_key") or "") or headers.get("session-id", "")
    if not raw:
        first = body.get("messages", [None])[0] if protocol == "anthropic" else body.get("input")
        if isinstance(first, list):
            first = first[0] if first else None
        raw = "h:" + orjson.dumps([body.get("system") or body.get("instructions"), first],
                                  option=orjson.OPT_SORT_KEYS).decode()
    return hashlib.sha256(f"{key_id}\x00{raw}".encode()).hexdigest()[:32]


def _metadata_session(metadata: Any) -> str:
    if not isinstance(metadata, dict):
        return ""
    user_id = metadata.get("user_id")
    if not isinstance(user_id, str):
        return ""
    if user_id.startswith("{"):
        try:
            parsed = orjson.loads(user_id)
            return str(parsed.get("session_id") or "") if isinstance(parsed, dict) else ""
        except orjson.JSONDecodeError:
            return ""
    marker = "_session_"  # older Claude Code: "user_<hash>_account__session_<uuid>"
    return user_id.split(marker, 1)[1] if marker in user_id else ""


class StickyStore:
    """session hash → account id, with expiry.

    A session whose conversation carries encrypted context (see ``server.relay.encrypted``) is
    bound for that context's lifetime instead of ``ttl``: ``put(..., ttl=…)``; a later plain
    renewal never shortens it (``$max``)."""

    def __init__(self, storage: Storage, ttl: int, cache_size: int = 100_000,
                 clock: WallClock | None = None) -> None:
        self.rows = StickyRows(storage)
        self.ttl = ttl
        self.cache_size = cache_size
        self.clock: WallClock = clock or Clock()
        self._cache: dict[str, tuple[str, float]] = {}

    async def get(self, session: str) -> str | None:
        now = self.clock.now()
        hit = self._cache.get(session)
        if hit and hit[1] > now:
            return hit[0]
        doc = await self.rows.get(session)
        if not doc:
            return None
        expires = float(doc["expires_at"])
        if expires <= now:
            return None
        self._remember(session, doc["account_id"], expires)
        return doc["account_id"]

    async def put(self, session: str, account_id: str, expected: str | None = None,
                  ttl: float | None = None) -> None:
        """Bind (or renew) the session; skips the write while the binding is fresh.

        ``expected`` is the binding the request started with. If another request of the same
        session bound it elsewhere meanwhile (parallel first turns, a failover), that binding
        stands: otherwise concurrent requests would keep flipping the session between accounts."""
        now = self.clock.now()
        ttl = ttl or self.ttl
        hit = self._cache.get(session)
        if hit and hit[1] > now and hit[0] != account_id and hit[0] != expected:
            return
        if hit and hit[0] == account_id and hit[1] - now > ttl / 2:
            return
        expires = now + ttl
        if hit and hit[0] == account_id:
            expires = max(expires, hit[1])
        self._remember(session, account_id, expires)  # visible to this process's next request now
        await self.rows.bind(session, account_id, expires)

    def _remember(self, session: str, account_id: str, expires: float) -> None:
        if len(self._cache) >= self.cache_size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[session] = (account_id, expires)

    async def held_by(self, account_id: str) -> int:
        return await self.rows.live_for(account_id, self.clock.now())

    async def purge_expired(self) -> int:
        return await self.rows.purge_expired(self.clock.now())
