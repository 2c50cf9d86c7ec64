"""Price sets with long-context tiers, vendor cache ratios and catalogue model matching.

A ``PriceSet`` is what one rule charges per token kind, in micro-units per million tokens, at
each tier: the base prices and, for each threshold, the full prices above it. Tiers are
"cliffs" as the vendors define them: once the request's input (input + cache reads + cache
writes for Anthropic; ``input_tokens``, which includes cached tokens, for the Responses API:
the same sum in ``Usage`` terms) is *above* a threshold, every token of the kinds the tier
lists is priced at the tier's rate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping

from server.pricing.money import div_round_half_up

KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
CACHE_KINDS = ("cache_write_5m", "cache_write_1h", "cache_read")
# Anthropic's cache prices relative to input (5-minute write, 1-hour write, read): used for
# Anthropic models the catalogue lacks, and for any kind a catalogue entry leaves out.
ANTHROPIC_RATIOS = {"cache_write_5m": Fraction(5, 4), "cache_write_1h": Fraction(2),
                    "cache_read": Fraction(1, 10)}


def derive(input_price: int, ratio: Fraction) -> int:
    """A cache price from the input price by an exact ratio, rounded once (half up)."""
    return div_round_half_up(input_price * ratio.numerator, ratio.denominator)


@dataclass(frozen=True)
class PriceSet:
    """Base prices by kind and, ascending, ``(above, prices)`` tiers."""

    base: Mapping[str, int]
    tiers: tuple[tuple[int, Mapping[str, int]], ...] = ()

    def at(self, input_total: int) -> tuple[int, Mapping[str, int]]:
        """(threshold crossed or 0, prices) for a request whose input totals ``input_total``."""
        for above, prices in reversed(self.tiers):
            if input_total > above:
                return above, prices
        return 0, self.base

    def as_json(self) -> dict[str, Any]:
        return {"base": dict(self.base), "tiers": [{"above": a, "prices": dict(p)} for a, p in self.tiers]}


def _fill(prices: dict[str, int], vendor: str) -> dict[str, int]:
    """Every kind priced: a kind the catalogue leaves out costs what the vendor bills for it
    (Anthropic: its cache ratios; otherwise the kind is billed as its parent: a cache read or
    write as input, a 1-hour write as a 5-minute write)."""
    out = dict(prices)
    if vendor == "anthropic":
        for kind, ratio in ANTHROPIC_RATIOS.items():
            out.setdefault(kind, derive(out["input"], ratio))
    else:
        out.setdefault("cache_read", out["input"])
        out.setdefault("cache_write_5m", out["input"])
        out.setdefault("cache_write_1h", out["cache_write_5m"])
    return out


def price_set(spec: Mapping[str, Any], vendor: str, under: Mapping[str, Any] | None = None) -> PriceSet:
    """A ``PriceSet`` from a converted catalogue spec ({kind: micro | {"base", "tiers"}}),
    laid over ``under`` (the standard spec, for a service-tier or speed variant)."""
    merged = {k: v for k, v in {**(under or {}), **spec}.items() if k in KINDS}
    thresholds = sorted({int(t[0]) for v in merged.values() if isinstance(v, dict) for t in v["tiers"]})

    def level(threshold: int) -> dict[str, int]:
        prices = {}
        for kind, value in merged.items():
            if isinstance(value, dict):
                price = int(value["base"])
                for start, tier_price in value["tiers"]:
                    if threshold > 0 and int(start) <= threshold:
                        price = int(tier_price)
                prices[kind] = price
            else:
                prices[kind] = int(value)
        return _fill(prices, vendor)

    return PriceSet(base=level(0), tiers=tuple((t, level(t)) for t in thresholds))


def flat(prices: Mapping[str, int]) -> PriceSet:
    return PriceSet(base=dict(prices))


def matcher(clause: Any) -> Callable[[str], bool]:
    """A predicate over lower-cased model names from a catalogue match clause (the library's
    own semantics: equals / starts_with / ends_with / contains / regex search, or, and)."""
    if "or" in clause:
        parts = [matcher(c) for c in clause["or"]]
        return lambda name: any(p(name) for p in parts)
    if "and" in clause:
        parts = [matcher(c) for c in clause["and"]]
        return lambda name: all(p(name) for p in parts)
    if "equals" in clause:
        value = clause["equals"].lower()
        return lambda name: name == value
    if "starts_with" in clause:
        value = clause["starts_with"].lower()
        return lambda name: name.startswith(value)
    if "ends_with" in clause:
        value = clause["ends_with"].lower()
        return lambda name: name.endswith(value)
    if "contains" in clause:
        value = clause["contains"].lower()
        return lambda name: value in name
    if "regex" in clause:
        pattern = re.compile(clause["regex"])
        return lambda name: pattern.search(name) is not None
    return lambda name: False


_DATE = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")


def base_models(model: str) -> list[str]:
    """Names to price an unknown model by, nearest first: without a date suffix, then without
    each trailing segment that carries no digit (``gpt-5.4-codex`` → ``gpt-5.4``). Segments
    with a digit are versions and never dropped (``claude-opus-4-7`` is not ``claude-opus-4``)."""
    out = []
    name = _DATE.sub("", model)
    if name != model:
        out.append(name)
    while "-" in name:
        head, tail = name.rsplit("-", 1)
        if any(c.isdigit() for c in tail) or not head:
            break
        name = head
        out.append(name)
    return out
