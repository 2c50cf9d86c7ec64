"""Migration of installs from before the catalogue: the rules they were seeded with.

Until the catalogue, a first start wrote these rules (``config/prices.toml``, micro-units per
million tokens; cache prices derived 1.25×/2×/0.1× unless given). A stored rule with no
``source`` is from that time: if it still carries its seeded prices nobody edited it and the
catalogue replaces it; an edited one stays (an operator rule beats the catalogue) and is
flagged for review; a rule an operator added stays as it is."""

from __future__ import annotations

from typing import Any, Mapping

from server.pricing.price_sets import ANTHROPIC_RATIOS, CACHE_KINDS, derive

_OLD = {  # pattern: (input, output, cache_read or None)
    "claude-opus-4*": (15_000_000, 75_000_000, None),
    "claude-sonnet-4*": (3_000_000, 15_000_000, None),
    "claude-3-5-haiku*": (800_000, 4_000_000, None),
    "claude-3-5-sonnet*": (3_000_000, 15_000_000, None),
    "claude-haiku-4*": (1_000_000, 5_000_000, None),
    "claude-opus-5*": (15_000_000, 75_000_000, None),
    "claude-sonnet-5*": (3_000_000, 15_000_000, None),
    "claude-haiku-5*": (1_000_000, 5_000_000, None),
    "gpt-5*": (1_250_000, 10_000_000, 125_000),
}
EDITED_SEED = ("edited seeded rule from before the price catalogue: as an operator rule it beats "
               "the catalogue for every model it matches; check it or delete it")


def _derived(input_price: int) -> dict[str, int]:
    return {k: derive(input_price, ANTHROPIC_RATIOS[k]) for k in CACHE_KINDS}


def legacy_seed_prices(pattern: str) -> dict[str, int] | None:
    """The prices a pre-catalogue first start seeded for ``pattern`` (None: not a seeded pattern)."""
    if pattern not in _OLD:
        return None
    input_price, output_price, read = _OLD[pattern]
    prices = {"input": input_price, "output": output_price, **_derived(input_price)}
    if read is not None:
        prices["cache_read"] = read
    return prices


def inferred_explicit(doc: Mapping[str, Any]) -> list[str]:
    """Which prices of an old rule were set by hand: input, output and any cache price that
    is not what the input would derive."""
    derived = _derived(int(doc["input"]))
    return ["input", "output", *[k for k in CACHE_KINDS if int(doc[k]) != derived[k]]]


def plan(doc: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """("delete", {}) for an unedited seeded rule, else ("keep", fields to set)."""
    seeded = legacy_seed_prices(doc["pattern"])
    if seeded is not None and all(int(doc.get(k, -1)) == v for k, v in seeded.items()):
        return "delete", {}
    fields: dict[str, Any] = {"source": "operator", "explicit": inferred_explicit(doc)}
    if seeded is not None:
        fields["review"] = EDITED_SEED
    return "keep", fields
