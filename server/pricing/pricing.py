"""Price rules and the exact cost of a request.

Two sources of rules: the **catalogue** (converted from the ``genai-prices`` library into the
database, stamped with its version: tiers, service-tier/speed variants, web search) and the
**operator's** rules (a model or a glob such as ``claude-opus-*``). An operator rule always
beats a catalogue entry, whatever the specificity; among operator rules the most specific
wins (an exact name, then the glob with the most literal characters); among catalogue
entries the first match in the library's order, as the library does; a model neither knows
is priced, flagged, by its base model (``gpt-5.4-codex`` as ``gpt-5.4``). A group multiplier
(parts per million) scales the whole charge."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from server.pricing.money import PPM, TOKENS_PER_PRICE_UNIT, div_round_half_up
from server.pricing.price_sets import ANTHROPIC_RATIOS, KINDS, PriceSet, base_models, derive, flat
from server.pricing.usage import Usage

__all__ = ["KINDS", "PriceRule", "Cost", "find_rule", "compute_cost", "rule_from_doc"]


@dataclass(frozen=True)
class Variant:
    """Prices for one request context the upstream reports (``service_tier=priority``, ``speed=fast``)."""

    when: Mapping[str, str]
    prices: PriceSet

    @property
    def label(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.when.items()))

    def applies(self, usage: Usage) -> bool:
        context = {"service_tier": usage.service_tier, "speed": usage.speed}
        return all(context.get(k) == v for k, v in self.when.items())


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
    source: str = "operator"  # "operator" | "catalogue"
    tiers: PriceSet | None = None  # the standard prices with tiers (None: flat)
    variants: tuple[Variant, ...] = ()
    web_search: int = 0  # micro-units per thousand web search requests
    version: str = ""  # catalogue version the entry came from
    base_model: str = ""  # set when a model is priced as its base model (flagged)
    explicit: frozenset[str] = frozenset(KINDS)  # prices an operator set (the rest follow input)
    review: str = ""  # why an operator should look at this rule ("" = nothing to review)
    match: Callable[[str], bool] | None = field(default=None, compare=False, repr=False)
    order: int = 0

    @classmethod
    def build(cls, pattern: str, input: int, output: int, cache_write_5m: int | None = None,
              cache_write_1h: int | None = None, cache_read: int | None = None,
              ratios: Mapping[str, Any] | None = None, **extra: Any) -> "PriceRule":
        """A rule with the cache prices derived from ``input`` by ``ratios`` where not given
        (default: 1.25× and 2× for writes, 0.1× for reads)."""
        ratios = ratios or ANTHROPIC_RATIOS
        given = {"cache_write_5m": cache_write_5m, "cache_write_1h": cache_write_1h, "cache_read": cache_read}
        cache = {k: derive(input, ratios[k]) if v is None else v for k, v in given.items()}
        explicit = frozenset({"input", "output"} | {k for k, v in given.items() if v is not None})
        return cls(pattern=pattern, input=input, output=output, cache_write_5m=cache["cache_write_5m"],
                   cache_write_1h=cache["cache_write_1h"], cache_read=cache["cache_read"],
                   placeholder=bool(extra.get("placeholder", False)), note=str(extra.get("note", "")),
                   web_search=int(extra.get("web_search", 0) or 0), explicit=explicit,
                   review=str(extra.get("review", "")))

    def prices(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in KINDS}

    def standard(self) -> PriceSet:
        return self.tiers if self.tiers is not None else flat(self.prices())

    def specificity(self) -> tuple[int, int]:
        return specificity(self.pattern)

    def matches(self, model: str) -> bool:
        if self.match is not None:
            return self.match(model.lower())
        return fnmatch.fnmatchcase(model, self.pattern)


@dataclass(frozen=True)
class Cost:
    """What a request costs: the prices applied, the multiplier and the rounded total.

    ``prices`` are the rule's standard base prices and ``parts[kind]`` the tokens at them;
    what the vendor bills beyond that is a line of its own in ``parts``: ``long_context``
    (the tier's premium), ``service_tier`` / ``speed`` (a variant's premium or discount) and
    ``web_search``. The total is rounded once from the exact sum (parts may differ by ≤1 each)."""

    usage: Usage
    prices: dict[str, int]
    multiplier_ppm: int
    total: int
    pattern: str = ""
    parts: dict[str, int] = field(default_factory=dict)
    tier: int = 0  # the input threshold crossed (0: base prices)
    variant: str = ""  # "service_tier=priority", "speed=fast" or ""
    applied: dict[str, int] = field(default_factory=dict)  # per-token prices actually charged
    web_search: int = 0  # price per thousand web search requests
    source: str = "operator"
    version: str = ""
    base_model: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"prices": self.prices, "multiplier_ppm": self.multiplier_ppm, "total": self.total,
                "rule": self.pattern, "parts": self.parts, **self.pricing()}

    def pricing(self) -> dict[str, Any]:
        """How the row was priced (stored with it: the tier and variant it was priced at)."""
        return {"tier": self.tier, "variant": self.variant, "applied": self.applied,
                "web_search_price": self.web_search, "web_search_requests": self.usage.web_search_requests,
                "source": self.source, "catalogue_version": self.version, "base_model": self.base_model}


def specificity(pattern: str) -> tuple[int, int]:
    """Exact names first, then the glob with the most literal characters."""
    literal = sum(1 for c in pattern if c not in "*?[]")
    return (0 if any(c in pattern for c in "*?[") else 1, literal)


def overriding_pattern(operator_patterns: Iterable[str], model: str) -> str | None:
    """The operator pattern that prices ``model`` instead of the catalogue (the most specific
    match, as ``find_rule`` picks it), or None."""
    matching = [p for p in operator_patterns if fnmatch.fnmatchcase(model, p)]
    return max(matching, key=specificity) if matching else None


def find_rule(rules: Iterable[PriceRule], model: str) -> PriceRule | None:
    """The rule pricing ``model``: an operator rule (most specific), else the first catalogue
    entry, else the catalogue entry of its base model (flagged), else None (no price)."""
    best: PriceRule | None = None
    catalogue: list[PriceRule] = []
    for rule in rules:
        if rule.source == "catalogue":
            catalogue.append(rule)
        elif rule.matches(model) and (best is None or rule.specificity() > best.specificity()):
            best = rule
    if best is not None:
        return best
    catalogue.sort(key=lambda r: r.order)
    for name in (model, *base_models(model)):
        for rule in catalogue:
            if rule.matches(name):
                return rule if name == model else replace(rule, base_model=name)
    return None


def compute_cost(usage: Usage, rule: PriceRule, multiplier_ppm: int = PPM) -> Cost:
    """Exact integer cost: Σ tokens × price × multiplier, divided and rounded once."""
    input_total = usage.input + usage.cache_read + usage.cache_write_5m + usage.cache_write_1h
    standard = rule.standard()
    base = dict(standard.base)
    tier, tiered = standard.at(input_total)
    variant = next((v for v in rule.variants if v.applies(usage)), None)
    applied = dict(variant.prices.at(input_total)[1]) if variant is not None else dict(tiered)
    tokens = {k: getattr(usage, k) for k in KINDS}
    raw = {k: tokens[k] * base[k] for k in KINDS}
    if tier:
        raw["long_context"] = sum(tokens[k] * (tiered[k] - base[k]) for k in KINDS)
    if variant is not None:
        raw[next(iter(variant.when))] = sum(tokens[k] * (applied[k] - tiered[k]) for k in KINDS)
    if usage.web_search_requests:
        # per thousand requests → per million "tokens" scale: × 1000
        raw["web_search"] = usage.web_search_requests * rule.web_search * 1000
    denominator = TOKENS_PER_PRICE_UNIT * PPM
    total = div_round_half_up(sum(raw.values()) * multiplier_ppm, denominator)
    parts = {k: div_round_half_up(v * multiplier_ppm, denominator) for k, v in raw.items()}
    return Cost(usage=usage, prices=base, multiplier_ppm=multiplier_ppm, total=total,
                pattern=rule.pattern, parts=parts, tier=tier, variant=variant.label if variant else "",
                applied=applied, web_search=rule.web_search, source=rule.source, version=rule.version,
                base_model=rule.base_model)


def rule_from_doc(doc: Mapping[str, Any]) -> PriceRule:
    """A stored operator price document as a rule."""
    explicit = doc.get("explicit")
    return PriceRule(pattern=doc["pattern"], input=doc["input"], output=doc["output"],
                     cache_write_5m=doc["cache_write_5m"], cache_write_1h=doc["cache_write_1h"],
                     cache_read=doc["cache_read"], placeholder=doc.get("placeholder", False),
                     note=doc.get("note", ""), web_search=int(doc.get("web_search", 0) or 0),
                     explicit=frozenset(explicit) if explicit is not None else frozenset(KINDS),
                     review=doc.get("review", ""))
