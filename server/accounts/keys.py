"""API keys: creation (the full key is shown once and only its SHA-256 is stored), the
owner's listing and lifecycle, and ``resolve``, the relay's per-request lookup.

``resolve`` keeps successful lookups for ``cache_ttl`` seconds in process: a disable or delete
made here drops the entry at once; one made by another process is seen within the TTL, plus
the time a reload takes: a request just past the TTL is answered from the entry while it
reloads in the background (for at most ``STALE_GRACE`` seconds if the database is slow), so
a slow database never stalls every relayed call at once. The cached user (balance included)
is as old as the entry: check spend against fresh data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Sequence

from server.accounts.times import as_utc, from_epoch
from server.errors import BadRequest, Forbidden, NotFound, Unauthorized
from server.i18n import t
from server.ids import new_id
from server.refresh import GRACE
from server.singleflight import SingleFlight
from server.storage.groups import GroupStore
from server.storage.keys import KeyStore, empty_totals
from server.storage.ledger import utcnow
from server.storage.runtime_settings import RuntimeSettingsStore
from server.storage.users import UserStore

log = logging.getLogger(__name__)
# Seconds past expiry during which a cached key is still served while it reloads in the
# background: the same grace as the other relay snapshots (server.refresh).
STALE_GRACE = GRACE

if TYPE_CHECKING:
    from server.clock import Clock

KEY_PREFIX = "sk-"
UNKNOWN_TTL = 30.0  # seconds an unknown key hash is answered 401 from memory
UNKNOWN_SIZE = 50_000  # unknown hashes remembered at most (~6 MB)
MAX_SECRET_LENGTH = 200
INVALID_KEY = t("无效的 API Key")


def hash_key(secret: str) -> str:
    """The stored form of a full key."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(secret: str) -> str:
    """``sk-XXXX…YYYY``: enough to recognise a key, too little to use it."""
    body = secret[len(KEY_PREFIX):]
    return f"{KEY_PREFIX}{body[:4]}…{body[-4:]}"


class KeyService:
    """Creates, lists, switches and resolves API keys."""

    def __init__(self, store: KeyStore, users: UserStore, groups: GroupStore,
                 runtime: RuntimeSettingsStore, clock: "Clock", cache_ttl: float = 5.0,
                 max_keys_per_user: int = 100, cache_size: int = 10_000) -> None:
        self.store = store
        self.users = users
        self.groups = groups
        self.runtime = runtime
        self.clock = clock
        self.cache_ttl = cache_ttl
        self.max_keys_per_user = max_keys_per_user
        self.cache_size = cache_size
        self._cache: dict[str, tuple[float, dict[str, Any], dict[str, Any]]] = {}
        self._flight = SingleFlight()
        self._reloads: dict[str, asyncio.Task] = {}  # key hash -> its background reload
        # Hashes of presented keys that do not exist -> until when that answer stands: a flood
        # of invalid keys repeats costs no database work. Bounded; a key created here is never
        # in it (its hash could not have been presented before it existed).
        self._unknown: OrderedDict[str, float] = OrderedDict()

    async def create(self, user_id: str, *, name: str, group: str | None = None,
                     rate_limit: int | None = None, max_concurrency: int = 0,
                     expires_at: dt.datetime | None = None, models: Sequence[str] = (),
                     spend_quota: int = 0) -> tuple[dict[str, Any], str]:
        """A new active key for ``user_id`` and its full secret (returned this once only)."""
        group = group or "claude"
        if await self.groups.get(group) is None:
            raise BadRequest(t("分组 {group} 不存在", group=group), field="group")
        now = utcnow()
        if expires_at is not None and expires_at <= now:
            raise BadRequest(t("expiresAt 必须晚于当前时间"), field="expiresAt")
        if await self.store.count_for_user(user_id) >= self.max_keys_per_user:
            raise BadRequest(t("每个账户最多 {limit} 个 API Key", limit=self.max_keys_per_user), field="name")
        if rate_limit is None:
            rate_limit = (await self.runtime.get()).default_rate_limit
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        doc = {"_id": new_id("key"), "user_id": user_id, "name": name, "key_hash": hash_key(secret),
               "prefix": display_prefix(secret), "group": group, "rate_limit": rate_limit,
               "max_concurrency": max_concurrency, "expires_at": expires_at, "models": list(models),
               "spend_quota": spend_quota, "status": "active", "created_at": now,
               "last_used_at": None, "totals": empty_totals()}
        await self.store.insert(doc)
        return doc, secret

    async def list_for_user(self, user_id: str) -> list[dict[str, Any]]:
        """A user's keys, newest first."""
        return await self.store.list_for_user(user_id)

    async def get_for_user(self, user_id: str, key_id: str) -> dict[str, Any]:
        """A key of this user; another user's key is a 404 like a missing one."""
        key = await self.store.get_for_user(user_id, key_id)
        if key is None:
            raise NotFound(t("API Key 不存在"))
        return key

    async def set_status(self, user_id: str | None, key_id: str, status: str) -> dict[str, Any]:
        """Enable or disable a key of ``user_id`` (None: operator, any user's)."""
        key = await self.store.set_status(user_id, key_id, status)
        if key is None:
            raise NotFound(t("API Key 不存在"))
        self.invalidate(key_id=key_id)
        return key

    async def delete(self, user_id: str | None, key_id: str) -> None:
        """Delete a key for good (usage rows keep its id and name)."""
        if not await self.store.delete(user_id, key_id):
            raise NotFound(t("API Key 不存在"))
        self.invalidate(key_id=key_id)

    # -- the relay's lookup --------------------------------------------------------------
    async def resolve(self, secret: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(key, user) for a presented key that may be used now; otherwise 401 (403: user disabled)."""
        if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > MAX_SECRET_LENGTH:
            raise Unauthorized(INVALID_KEY)
        key_hash = hash_key(secret)
        now = self.clock.monotonic()
        hit = self._cache.get(key_hash)
        if hit is not None and hit[0] > now:
            key, user = hit[1], hit[2]
        elif hit is not None and hit[0] + STALE_GRACE > now:
            # Just expired: answer from the entry and reload it in the background, so a slow
            # database (a flush backlog on the embedded one) does not stall every relayed call.
            key, user = hit[1], hit[2]
            if key_hash not in self._reloads:
                self._reloads[key_hash] = asyncio.get_running_loop().create_task(self._refresh(key_hash))
        else:
            if self._unknown.get(key_hash, 0.0) > now:
                raise Unauthorized(INVALID_KEY)  # looked up a moment ago and not there: no database work
            try:
                key, user = await self._flight.do(key_hash, lambda: self._load(key_hash))
            except Unauthorized as exc:
                if exc.text == INVALID_KEY:
                    self._forget_unknown_later(key_hash, now)
                raise
            self._remember(key_hash, now + self.cache_ttl, key, user)
        expires_at = as_utc(key.get("expires_at"))
        if expires_at is not None and expires_at <= from_epoch(self.clock.now()):
            raise Unauthorized(t("API Key 已过期"))
        return key, user

    async def reloads_done(self) -> None:
        """Wait for the background reloads in flight (tests, shutdown)."""
        while self._reloads:
            await asyncio.gather(*list(self._reloads.values()), return_exceptions=True)

    async def _refresh(self, key_hash: str) -> None:
        try:
            key, user = await self._flight.do(key_hash, lambda: self._load(key_hash))
        except (Unauthorized, Forbidden):
            self._cache.pop(key_hash, None)  # disabled, deleted: the next call is refused
        except Exception:  # noqa: BLE001 - the database is unwell: keep serving the entry until its grace ends
            log.warning("reloading an API key failed; the cached entry is used for up to %.0f s", STALE_GRACE,
                        exc_info=True)
        else:
            self._remember(key_hash, self.clock.monotonic() + self.cache_ttl, key, user)
        finally:
            self._reloads.pop(key_hash, None)

    async def _load(self, key_hash: str) -> tuple[dict[str, Any], dict[str, Any]]:
        key = await self.store.get_by_hash(key_hash)
        if key is None:
            raise Unauthorized(INVALID_KEY)
        if key.get("status") != "active":
            raise Unauthorized(t("API Key 已禁用"))
        user = await self.users.get(key["user_id"])
        if user is None:
            raise Unauthorized(INVALID_KEY)
        if user.get("status") != "active":
            raise Forbidden(t("账户已被禁用"))
        return key, user

    def _forget_unknown_later(self, key_hash: str, now: float) -> None:
        self._unknown[key_hash] = now + UNKNOWN_TTL
        self._unknown.move_to_end(key_hash)
        while len(self._unknown) > UNKNOWN_SIZE:
            self._unknown.popitem(last=False)

    def _remember(self, key_hash: str, until: float, key: dict[str, Any], user: dict[str, Any]) -> None:
        if len(self._cache) >= self.cache_size:
            now = self.clock.monotonic()
            for stale in [h for h, entry in self._cache.items() if entry[0] <= now]:
                del self._cache[stale]
            while len(self._cache) >= self.cache_size:  # still full: drop the oldest entries
                del self._cache[next(iter(self._cache))]
        self._cache[key_hash] = (until, key, user)

    def invalidate(self, key_id: str | None = None, user_id: str | None = None) -> None:
        """Forget cached lookups of a key, of a user's keys, or (no argument) of all keys."""
        if key_id is None and user_id is None:
            self._cache.clear()
            return
        for key_hash in [h for h, (_, key, _user) in self._cache.items()
                         if key["_id"] == key_id or key["user_id"] == user_id]:
            del self._cache[key_hash]
