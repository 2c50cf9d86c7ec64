"""Price rules and the exact cost of a request.

A rule prices one model or a glob of models (``claude-opus-*``) per million tokens, in
micro-units: input, output, cache write 5m and 1h (defaults 1.25× and 2× input) and cache read
(default 0.1× input). The most specific rule wins: an exact name, then the glob with the most
literal characters. A group multiplier (parts per million) scales the whole charge."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from server.billing.money import PPM, TOKENS_PER_PRICE_UNIT, div_round_half_up
from server.billing.usage import Usage

KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


@dataclass(frozen=True)
class PriceRule:
    """Per-million-token prices in micro-units for the models matching ``pattern``."""

    pattern: str
    input: int
    output: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    placeholder: bool = False
    note: str = ""

    @classmethod
    def build(cls, pattern: str, input: int, output: int, cache_write_5m: int | None = None,
              cache_write_1h: int | None = None, cache_read: int | None = None,
              **extra: Any) -> "PriceRule":
        """A rule with the cache prices derived from ``input`` where not given."""
        return cls(pattern=pattern, input=input, output=output,
                   cache_write_5m=div_round_half_up(input * 5, 4) if cache_write_5m is None else cache_write_5m,
                   cache_write_1h=input * 2 if cache_write_1h is None else cache_write_1h,
                   cache_read=div_round_half_up(input, 10) if cache_read is None else cache_read,
                   placeholder=bool(extra.get("placeholder", False)), note=str(extra.get("note", "")))

    def prices(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in KINDS}

    def specificity(self) -> tuple[int, int]:
        literal = sum(1 for c in self.pattern if c not in "*?[]")
        return (0 if any(c in self.pattern for c in "*?[") else 1, literal)

    def matches(self, model: str) -> bool:
        return fnmatch.fnmatchcase(model, self.pattern)


@dataclass(frozen=True)
class Cost:
    """What a request costs: the prices applied, the multiplier and the rounded total."""

    usage: Usage
    prices: dict[str, int]
    multiplier_ppm: int
    total: int
    pattern: str = ""
    parts: dict[str, int] = field(default_factory=dict)  # per kind, in micro-units (unrounded sum differs by ≤1)

    def as_dict(self) -> dict[str, Any]:
        return {"prices": self.prices, "multiplier_ppm": self.multiplier_ppm, "total": self.total,
                "rule": self.pattern, "parts": self.parts}


def find_rule(rules: Iterable[PriceRule], model: str) -> PriceRule | None:
    """The most specific rule matching ``model`` (None: the model has no price)."""
    best: PriceRule | None = None
    for rule in rules:
        if rule.matches(model) and (best is None or rule.specificity() > best.specificity()):
            best = rule
    return best


def compute_cost(usage: Usage, rule: PriceRule, multiplier_ppm: int = PPM) -> Cost:
    """Exact integer cost: Σ tokens × price × multiplier, divided and rounded once."""
    prices = rule.prices()
    raw = {k: getattr(usage, k) * prices[k] for k in KINDS}
    denominator = TOKENS_PER_PRICE_UNIT * PPM
    total = div_round_half_up(sum(raw.values()) * multiplier_ppm, denominator)
    parts = {k: div_round_half_up(v * multiplier_ppm, denominator) for k, v in raw.items()}
    return Cost(usage=usage, prices=prices, multiplier_ppm=multiplier_ppm, total=total,
                pattern=rule.pattern, parts=parts)


def rule_from_doc(doc: Mapping[str, Any]) -> PriceRule:
    """A stored price document as a rule."""
    return PriceRule(pattern=doc["pattern"], input=doc["input"], output=doc["output"],
                     cache_write_5m=doc["cache_write_5m"], cache_write_1h=doc["cache_write_1h"],
                     cache_read=doc["cache_read"], placeholder=doc.get("placeholder", False),
                     note=doc.get("note", ""))
