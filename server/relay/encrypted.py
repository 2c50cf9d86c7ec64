"""Responses API encrypted context: keep a conversation on the account that can read it.

Reasoning ``encrypted_content`` and ``compaction`` items are readable only by the upstream
account that minted them; Codex resends them every turn (``store: false``). So:

Any input item with an ``encrypted_content`` string counts (newer Codex multi-agent messages
are encrypted too); only reasoning items may be dropped.

- **Routing** (``prepare``/``choose``): a request carrying such items goes to their minter,
  found from the fingerprints the relay stored when it passed each blob back (collection
  ``context_marks``, shared by every process, kept ``encrypted_context_ttl``), else from the
  session binding. Items minted by another account than the one chosen are dropped (reasoning)
  or refused with a clear error (compaction).
- **The minter cannot serve**: cooling ≤ 3 s → wait for it; cooling ≤
  ``encrypted_context_max_wait`` → 429 with ``retry-after``; disabled, deleted, cooling longer or
  no longer serving the model → move, dropping its encrypted reasoning items (logged on the
  usage row); a compaction item cannot be dropped → ``ContextLost`` telling the user to wait,
  compact again or start a new session.
- **Upstream ``invalid_encrypted_content``** is never the user's fault and never cools the
  account: retry on the minter if known and healthy, else drop the unreadable reasoning items
  and retry once; an unreadable compaction item → ``ContextLost``.
- **Settle**: fingerprints of the blobs in the answer are stored with the serving account, and
  the session binding lasts as long as the encrypted context does.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Iterable

import orjson

from server.errors import UpstreamUnavailable
from server.relay.guard import ContextLost, Guard
from server.storage.context_marks import ContextMarkStore, fingerprint

if TYPE_CHECKING:
    from server.pools.manager import PoolManager
    from server.pools.state import AccountState
    from server.relay.context import RelayContext

log = logging.getLogger(__name__)

SHORT_WAIT = 3.0  # a minter back within this many seconds is waited for, in the request
REJECTED = "invalid_encrypted_content"
_SHOWN = re.compile(r"encrypted content (\S{4})\.\.\.(\S{4}) could not be verified")


def _kind(item: dict[str, Any]) -> str:
    """Either "reasoning" (droppable: the model loses only its private reasoning) or "compaction"
    (the compacted history itself; any other encrypted item, e.g. Codex's encrypted multi-agent
    messages, is treated the same: dropping it would lose conversation content)."""
    return "reasoning" if item.get("type") == "reasoning" else "compaction"


def encrypted_items(body: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(input index, kind, blob) of every encrypted item of a Responses request."""
    items = body.get("input")
    out = []
    for i, item in enumerate(items if isinstance(items, list) else ()):
        blob = item.get("encrypted_content") if isinstance(item, dict) else None
        if isinstance(blob, str) and blob:
            out.append((i, _kind(item), blob))
    return out


class EncryptedGuard(Guard):
    """One Responses request's encrypted context."""

    def __init__(self, ctx: "RelayContext", pools: "PoolManager", max_attempts: int,
                 keeper: "ContextKeeper") -> None:
        super().__init__(ctx, pools, max_attempts)
        self.keeper = keeper
        self.store, self.ttl = keeper.store, keeper.ttl
        self.max_wait, self.clock = keeper.max_wait, keeper.clock
        self.items = encrypted_items(ctx.body)
        # Each blob hashed once: Codex resends every earlier blob (many KB each) on every turn.
        self._fps = {blob: fingerprint(blob) for _, _, blob in self.items}
        self.minters: dict[str, str] = {}
        self.owner: str | None = None
        self.minted: dict[str, str] = {}  # fingerprint -> kind, from the answer
        self.waited = False
        self.repaired = 0
        ctx.watch = self._watch

    def _fp(self, blob: str) -> str:
        return self._fps.get(blob) or fingerprint(blob)

    # -- routing ---------------------------------------------------------------------------
    async def prepare(self, preferred: str | None) -> str | None:
        if not self.items:
            return preferred
        self.minters = await self.keeper.minters([self._fp(b) for _, _, b in self.items])
        known = [self.minters[self._fp(b)] for _, _, b in self.items if self._fp(b) in self.minters]
        self.owner = known[-1] if known else preferred  # the latest blob's minter is the truth
        if self.owner is not None:
            await self.pools.ensure_fresh()
            account = self.pools.accounts.get(self.owner)
            moved_to = account.name if account else self.owner
            self._keep_readable_by(self.owner, f"minted before the session moved to {moved_to}")
        return self.owner

    async def choose(self, group: str, tried: Iterable[str], preferred: str | None) -> "AccountState | None":
        forced = self._take_forced()
        if forced is not None:
            return forced
        if self.owner is None or not self.items:
            return await self.pools.select(group, self.ctx.model, exclude=tried, sticky=preferred)
        await self.pools.ensure_fresh()
        tried = list(tried)
        owner = self.pools.accounts.get(self.owner)
        if owner is not None and owner.id not in tried and owner.status == "healthy" \
                and owner.serves(group, self.ctx.model) and owner.has_capacity():
            return owner
        reason, wait = self._why_not(owner, group)
        if wait is not None and wait <= SHORT_WAIT and not self.waited:
            self.waited = True
            await asyncio.sleep(max(0.0, wait))
            await self.pools.reload()
            owner = self.pools.accounts.get(self.owner)
            if owner is not None and owner.status == "healthy":
                return owner
            reason, wait = self._why_not(owner, group)
        name = owner.name if owner is not None else self.owner
        if wait is not None and wait <= self.max_wait:
            seconds = max(1, int(wait + 0.999))
            raise UpstreamUnavailable(
                f"本会话的加密上下文只能由上游账号 {name} 读取,"
                f"该账号暂时不可用({reason}),请 {seconds} 秒后重试",
                status=429, type="rate_limit_error", headers={"retry-after": str(seconds)})
        if self._has_compaction():
            raise ContextLost(
                f"本会话已压缩(compaction),压缩后的上下文只能由上游账号 {name} 读取,而它当前不可用"
                f"({reason})。请等它恢复后重试,或开始新会话(Codex: /new);重新压缩需要能读取旧上下文的账号。")
        moved = await self.pools.select(group, self.ctx.model, exclude=tried + [self.owner])
        if moved is None:
            return None
        self._keep_readable_by(moved.id, f"moved from {name} to {moved.name} ({reason})", strict=True)
        self.owner = moved.id
        return moved

    def _why_not(self, owner: "AccountState | None", group: str) -> tuple[str, float | None]:
        """Why the minter cannot serve now, and in how many seconds it is back (None: not soon)."""
        if owner is None:
            return "已删除", None
        if owner.status == "disabled":
            return "已停用", None
        if not owner.serves(group, self.ctx.model):
            return "不再服务该模型", None
        if owner.status == "cooling":
            until = float((owner.doc.get("state") or {}).get("cooldown_until") or 0)
            return "冷却中", max(0.0, until - self.clock.now())
        if not owner.has_capacity():
            return "并发已满", 1.0
        return "本次请求已失败", 1.0

    def _has_compaction(self) -> bool:
        return any(kind == "compaction" for _, kind, _ in self.items)

    def _keep_readable_by(self, account_id: str, why: str, strict: bool = False) -> None:
        """Drop reasoning items another account minted (``strict``: and those of unknown
        origin); a foreign compaction item is fatal."""
        foreign = [(i, kind, blob) for i, kind, blob in self.items
                   if self.minters.get(self._fp(blob), None if strict else account_id) != account_id]
        if not foreign:
            return
        if any(kind == "compaction" for _, kind, _ in foreign):
            raise ContextLost("本会话的压缩上下文(compaction)属于另一个上游账号,当前账号无法读取。"
                              "请稍后重试,或开始新会话(Codex: /new)。")
        self._drop({i for i, _, _ in foreign},
                   f"encrypted_context: {why}; dropped {len(foreign)} encrypted reasoning "
                   "item(s) the serving account cannot read; "
                   "the model continues without that private reasoning")

    def _drop(self, indexes: set[int], note: str) -> None:
        items = self.ctx.body["input"]
        self.rewrite("input", [item for i, item in enumerate(items) if i not in indexes], note)
        self.items = encrypted_items(self.ctx.body)

    # -- upstream refusal --------------------------------------------------------------------
    def rejected(self, status: int, error_type: str, message: str) -> str | None:
        unverified = "could not be verified" in message and "encrypted content" in message
        return REJECTED if status == 400 and (REJECTED in (error_type, message) or unverified) else None

    async def after_failure(self, kind: str, message: str, account: "AccountState") -> bool:
        if kind != REJECTED:
            return False
        self.repaired += 1
        if self.repaired > 2 or self.ctx.attempts >= self.max_attempts:
            raise ContextLost("上游账号无法读取本会话的加密上下文,修复未成功。请开始新会话(Codex: /new)。")
        bad = self._offending(message, account.id)
        unknown = [self._fp(blob) for _, _, blob in bad if self._fp(blob) not in self.minters]
        if unknown:  # written meanwhile by another process, or routed before it was visible
            self.minters.update(await self.store.minters(unknown, self.clock.now()))
        found = (self.minters.get(self._fp(blob)) for _, _, blob in bad)
        minters = {minter for minter in found if minter is not None} - {account.id}
        for minter in minters:
            owner = self.pools.accounts.get(minter)
            if (owner is not None and owner.status == "healthy"
                    and owner.serves(self.ctx.group["_id"], self.ctx.model)):
                self.ctx.repairs.append(f"encrypted_context: {account.name} could not read it; retried on "
                                        f"the minting account {owner.name}")
                self.owner = self.next_account = owner.id
                self._keep_readable_by(owner.id, f"minted by neither {owner.name} nor {account.name}")
                return True
            if owner is not None:
                reason, wait = self._why_not(owner, self.ctx.group["_id"])
                if wait is not None and wait <= self.max_wait:  # back soon: choose() waits or answers 429
                    self.ctx.repairs.append(f"encrypted_context: {account.name} could not read it; "
                                            f"its minting account {owner.name} is {reason}")
                    self.owner = owner.id
                    return True
        if any(kind == "compaction" for _, kind, _ in bad):
            raise ContextLost("本会话的压缩上下文(compaction)无法被当前可用的上游账号读取"
                              "(生成它的账号不可用或已删除)。"
                              "请稍后重试,或开始新会话(Codex: /new)。")
        self._drop({i for i, _, _ in bad},
                   f"encrypted_context: {account.name} answered invalid_encrypted_content; "
                   f"dropped {len(bad)} encrypted reasoning item(s) and retried on the same account")
        self.owner = self.next_account = account.id
        return True

    def _offending(self, message: str, account_id: str) -> list[tuple[int, str, str]]:
        """The items the upstream named (``gAAA...Rg==``), else every one it may not have minted."""
        shown = _SHOWN.search(message)
        if shown:
            head, tail = shown.group(1), shown.group(2)
            named = [it for it in self.items if it[2].startswith(head) and it[2].endswith(tail)]
            if named:
                return named
        foreign = [it for it in self.items if self.minters.get(self._fp(it[2])) != account_id]
        return foreign or list(self.items)

    # -- after the answer --------------------------------------------------------------------
    def _watch(self, name: bytes, data: Any, raw: bytes = b"") -> None:
        """Collect encrypted blobs from ``output_item.done`` events (not parsed by the scanner:
        parsed here only when they carry encrypted content), ``response.completed`` or a whole
        JSON body (name ``b""``)."""
        if name == b"response.output_item.done":
            if data is None and b'"encrypted_content"' in raw:
                data = _event_data(raw)
            if isinstance(data, dict):
                self._collect([data.get("item")])
            return
        if isinstance(data, dict) and name in (b"response.completed", b"response.incomplete", b""):
            response = data.get("response") if name else data
            if isinstance(response, dict) and isinstance(response.get("output"), list):
                self._collect(response["output"])

    def _collect(self, items: list[Any]) -> None:
        for item in items:
            blob = item.get("encrypted_content") if isinstance(item, dict) else None
            if isinstance(blob, str) and blob:
                self.minted[fingerprint(blob)] = _kind(item)

    async def settle(self, account: "AccountState") -> float | None:
        if self.minted:
            self.keeper.learn(self.minted, account.id)
            try:
                await self.store.remember(self.minted.items(), account.id, self.clock.now() + self.ttl)
            except Exception:  # noqa: BLE001 - the answer is delivered; the session binding still routes
                log.exception("could not store %d encrypted-context fingerprints", len(self.minted))
        return float(self.ttl) if (self.minted or self.items) else None


def _event_data(raw: bytes) -> Any:
    """The JSON of one SSE event's ``data:`` lines, or None."""
    lines = [line[5:].lstrip(b" ") for line in raw.splitlines() if line.startswith(b"data:")]
    try:
        return orjson.loads(b"\n".join(lines)) if lines else None
    except orjson.JSONDecodeError:
        return None


class ContextKeeper:
    """Builds the guard for each relayed request (one per process), and caches which account
    minted which blob: that never changes, so the cache is safe to share across processes'
    writes (only fingerprints not in it are looked up; a long session resends hundreds)."""

    def __init__(self, pools: "PoolManager", store: ContextMarkStore, ttl: float, max_wait: float,
                 max_attempts: int, clock: Any, cache_size: int = 200_000) -> None:
        self.pools, self.store, self.ttl, self.max_wait = pools, store, ttl, max_wait
        self.max_attempts, self.clock, self.cache_size = max_attempts, clock, cache_size
        self._known: OrderedDict[str, str] = OrderedDict()

    async def minters(self, fingerprints: list[str]) -> dict[str, str]:
        found = {fp: self._known[fp] for fp in fingerprints if fp in self._known}
        missing = [fp for fp in fingerprints if fp not in found]
        if missing:
            fresh = await self.store.minters(missing, self.clock.now())
            self.learn(fresh, None)
            found.update(fresh)
        return found

    def learn(self, marks: dict[str, str], account_id: str | None) -> None:
        """Remember fingerprint → account (``account_id`` None: the values are the accounts)."""
        for fp, value in marks.items():
            self._known[fp] = account_id or value
            self._known.move_to_end(fp)
        while len(self._known) > self.cache_size:
            self._known.popitem(last=False)

    def open(self, ctx: "RelayContext") -> Guard:
        if ctx.path.startswith("/v1/messages/count_tokens"):
            return Guard(ctx, self.pools, self.max_attempts)
        if ctx.protocol == "anthropic":
            from server.relay.thinking import ThinkingGuard
            return ThinkingGuard(ctx, self.pools, self.max_attempts)
        return EncryptedGuard(ctx, self.pools, self.max_attempts, self)

    async def purge_expired(self) -> int:
        return await self.store.purge_expired(self.clock.now())
