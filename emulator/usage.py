"""Deterministic token accounting, so a test can compute the exact bill of any request.

Tokens of a text: ``ceil(len(text.encode("utf-8")) / 4)`` (:func:`tokens_of`).

Input tokens are the sum over the request's *segments*, each counted on its own:

- Anthropic, in cache-prefix order: each entry of ``tools``; ``system`` (a string is one
  segment, a list gives one per block); each message's content (a string is one segment, a
  list gives one per block). A ``text`` block counts its ``text``; any other block or tool
  counts ``orjson.dumps(obj without "cache_control", OPT_SORT_KEYS)``. Roles, message framing
  and the other request fields are free.
- Responses: ``instructions`` (a string); each entry of ``tools`` (sorted JSON); ``input``: a
  string is one segment; in a list each message's content is a string segment or one segment
  per part (its ``text`` if it has a string one, else sorted JSON), a ``function_call_output``
  counts its ``output`` (string, else sorted JSON), any other item counts its sorted JSON.

Output tokens: ``min(requested, max_tokens)`` where ``requested`` is the account's
``output_tokens`` knob (or ``x-emulator-output-tokens``); ``max_output_tokens`` for Responses
(no cap when absent). Thinking (Anthropic ``thinking.type`` enabled/adaptive) and reasoning
(Responses ``reasoning`` with an effort other than "none", or a summary) take
``min(8, output)`` of them; the visible text gets the rest. One generated word is one token.

Anthropic prompt caching, per account (and per model): every segment carrying
``cache_control`` is a breakpoint; its prefix is everything up to and including it. The
longest breakpoint prefix already cached (and not expired) is *read*; the tokens from there to
the last breakpoint are *written*, each stretch between consecutive breakpoints in the bucket
of the later breakpoint's ``ttl`` ("1h" → ephemeral_1h, else ephemeral_5m). Every breakpoint
prefix is then (re)stored with its TTL (reads refresh it). ``input_tokens = total − read −
written``. No minimum cacheable length. With one breakpoint: first request writes the prefix,
an identical later one reads it.

Responses caching, per account: with ``prompt_cache_key`` K, if an unexpired earlier request
with K had P input tokens, ``cached_tokens = min(P, total)``; then K remembers this request's
total (for 5 minutes, 24 hours with ``prompt_cache_retention: "24h"``). ``input_tokens``
includes ``cached_tokens``; ``output_tokens`` includes ``reasoning_tokens``.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any, Callable

import orjson

DEFAULT_OUTPUT_TOKENS = 12
THINKING_TOKENS = 8  # Anthropic thinking / Responses reasoning tokens, when requested
TTL_5M = 300.0
TTL_1H = 3600.0
RESPONSES_TTL = 300.0
RESPONSES_TTL_24H = 86400.0
CACHE_MAX_ENTRIES = 4096


def tokens_of(text: str) -> int:
    """Tokens of a text: a quarter of its UTF-8 length, rounded up."""
    return (len(text.encode("utf-8")) + 3) // 4


def _json(obj: Any) -> bytes:
    if isinstance(obj, dict) and "cache_control" in obj:
        obj = {k: v for k, v in obj.items() if k != "cache_control"}
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


class PromptCache:
    """A bounded LRU of prompt-cache entries (key → token count) with expiry."""

    def __init__(self, max_entries: int = CACHE_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Any, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Any, now: float | None = None) -> int | None:
        """The token count stored under ``key``, or None if absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= (self.clock() if now is None else now):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: Any, tokens: int, ttl: float, now: float | None = None) -> None:
        """Store (or refresh) ``key`` for ``ttl`` seconds, evicting the least recently used."""
        self._entries[key] = (tokens, (self.clock() if now is None else now) + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()


# --- Anthropic -------------------------------------------------------------------------------

def _anthropic_segments(body: dict) -> list[tuple[bytes, float | None]]:
    """(serialised segment, breakpoint TTL or None) in cache-prefix order."""
    segs: list[tuple[bytes, float | None]] = []

    def add(obj: Any) -> None:
        if isinstance(obj, str):
            segs.append((obj.encode("utf-8"), None))
            return
        ttl = None
        if isinstance(obj, dict):
            cc = obj.get("cache_control")
            if isinstance(cc, dict):
                ttl = TTL_1H if cc.get("ttl") == "1h" else TTL_5M
            if obj.get("type") == "text" and isinstance(obj.get("text"), str):
                segs.append((obj["text"].encode("utf-8"), ttl))
                return
        segs.append((_json(obj), ttl))

    for tool in body.get("tools") or ():
        add(tool)
    system = body.get("system")
    if isinstance(system, list):
        for block in system:
            add(block)
    elif system:
        add(system)
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else message
        if isinstance(content, list):
            for block in content:
                add(block)
        elif content is not None:
            add(content)
    return segs


def anthropic_input(body: dict) -> tuple[int, list[tuple[bytes, int, float]]]:
    """Total input tokens and the breakpoints as (prefix hash, prefix tokens, ttl)."""
    segs = _anthropic_segments(body)
    total = 0
    breakpoints: list[tuple[bytes, int, float]] = []
    hasher = None
    if any(ttl is not None for _, ttl in segs):
        hasher = hashlib.blake2b(str(body.get("model", "")).encode("utf-8"), digest_size=16)
    for data, ttl in segs:
        total += (len(data) + 3) // 4
        if hasher is not None:
            hasher.update(len(data).to_bytes(8, "little"))
            hasher.update(data)
            if ttl is not None:
                breakpoints.append((hasher.copy().digest(), total, ttl))
    return total, breakpoints


def output_budget(requested: int, limit: Any) -> int:
    """Output tokens: the requested length, capped by the request's limit when it has one."""
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        return min(requested, limit)
    return requested


def anthropic_usage(body: dict, cache: PromptCache, *, output_tokens: int = DEFAULT_OUTPUT_TOKENS,
                    now: float | None = None) -> dict:
    """The final ``usage`` of a Messages request; records its cache breakpoints in ``cache``."""
    total, breakpoints = anthropic_input(body)
    read = 0
    hit = -1
    for i in range(len(breakpoints) - 1, -1, -1):
        if cache.get(breakpoints[i][0], now) is not None:
            read, hit = breakpoints[i][1], i
            break
    write_5m = write_1h = 0
    previous = read
    for _, prefix, ttl in breakpoints[hit + 1:]:
        if ttl == TTL_1H:
            write_1h += prefix - previous
        else:
            write_5m += prefix - previous
        previous = prefix
    for key, prefix, ttl in breakpoints:
        cache.put(key, prefix, ttl, now)
    return {
        "input_tokens": total - read - write_5m - write_1h,
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
        "output_tokens": output_budget(output_tokens, body.get("max_tokens")),
        "service_tier": "standard",
    }


def wants_thinking(body: dict) -> bool:
    """Anthropic: the request enables extended (or adaptive) thinking."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


# --- OpenAI Responses ------------------------------------------------------------------------

def responses_input_tokens(body: dict) -> int:
    """Total input tokens of a Responses request (see the module docstring)."""
    total = 0
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        total += tokens_of(instructions)
    for tool in body.get("tools") or ():
        total += (len(_json(tool)) + 3) // 4
    items = body.get("input")
    if isinstance(items, str):
        return total + tokens_of(items)
    for item in items or ():
        if not isinstance(item, dict):
            total += (len(_json(item)) + 3) // 4
            continue
        content = item.get("content")
        if isinstance(content, str):
            total += tokens_of(content)
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, dict) else None
                total += tokens_of(text) if isinstance(text, str) else (len(_json(part)) + 3) // 4
        elif item.get("type") == "function_call_output":
            output = item.get("output")
            total += tokens_of(output) if isinstance(output, str) else (len(_json(output)) + 3) // 4
        else:
            total += (len(_json(item)) + 3) // 4
    return total


def wants_reasoning(body: dict) -> bool:
    """Responses: ``reasoning`` asks for an effort other than "none", or for a summary."""
    reasoning = body.get("reasoning")
    if not isinstance(reasoning, dict) or reasoning.get("effort") == "none":
        return False
    return bool(reasoning.get("effort") or reasoning.get("summary"))


def responses_usage(body: dict, cache: PromptCache, *, output_tokens: int = DEFAULT_OUTPUT_TOKENS,
                    now: float | None = None) -> dict:
    """The final ``usage`` of a Responses request; records its ``prompt_cache_key`` in ``cache``."""
    total = responses_input_tokens(body)
    cached = 0
    key = body.get("prompt_cache_key")
    if isinstance(key, str) and key:
        previous = cache.get(key, now)
        if previous is not None:
            cached = min(previous, total)
        ttl = RESPONSES_TTL_24H if body.get("prompt_cache_retention") == "24h" else RESPONSES_TTL
        cache.put(key, total, ttl, now)
    out = output_budget(output_tokens, body.get("max_output_tokens"))
    reasoning = min(THINKING_TOKENS, out) if wants_reasoning(body) else 0
    return {
        "input_tokens": total,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": total + out,
    }


def count_input_tokens(body: dict, protocol: str) -> int:
    """Total input tokens (cached or not) of a request; ``protocol`` is "anthropic" or "openai"."""
    if protocol == "anthropic":
        return anthropic_input(body)[0]
    if protocol in ("openai", "responses"):
        return responses_input_tokens(body)
    raise ValueError(f"unknown protocol {protocol!r}")
