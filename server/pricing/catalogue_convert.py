"""Convert the ``genai-prices`` catalogue into the relay's price entries (JSON on stdout).

Run as ``python -m server.pricing.catalogue_convert`` in a short-lived process: the library
brings pydantic and its data (~15 MB of RSS measured), which the serving process never loads.
It reads only the snapshot shipped inside the installed package (no network). Output:
``{"version", "converted_at", "entries": [...]}``; each entry has integer micro-unit prices per
million tokens by kind, long-context tiers, service-tier/speed variants and the web search
price per thousand requests, for the vendors the relay serves (Anthropic and OpenAI)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import json
import sys
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

VENDORS = ("anthropic", "openai")
# genai-prices key -> relay token kind
KEYS = {"input_mtok": "input", "output_mtok": "output", "cache_write_mtok": "cache_write_5m",
        "cache_write_1h_mtok": "cache_write_1h", "cache_read_mtok": "cache_read"}
# The request context the relay meters ("processing": batch is not relayed).
VARIANT_KEYS = ("service_tier", "speed")


def _micro(value: Decimal) -> int:
    return int((value * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))


def _clause(clause: Any) -> Any:
    """A match clause as plain JSON ({"or": [...]}, {"starts_with": "..."}, ...)."""
    name = type(clause).__name__
    if name == "ClauseOr":
        return {"or": [_clause(c) for c in clause.or_]}
    if name == "ClauseAnd":
        return {"and": [_clause(c) for c in clause.and_]}
    return {k: v for k, v in dataclasses.asdict(clause).items()}


def _price_set(model_price: Any) -> dict[str, Any]:
    """Prices by kind (flat and tiered) of one ``ModelPrice``:
    {"flat": {kind: micro}, "tiered": {kind: (base, [(start, micro)])}}."""
    from genai_prices.types import TieredPrices

    out: dict[str, Any] = {}
    for key, kind in KEYS.items():
        value = getattr(model_price, key, None)
        if value is None:
            continue
        if isinstance(value, TieredPrices):
            out[kind] = {"base": _micro(value.base),
                         "tiers": [[t.start, _micro(t.price)] for t in value.tiers]}
        else:
            out[kind] = _micro(value)
    web = getattr(model_price, "web_searches_kcount", None)
    if web is not None:
        out["web_search"] = _micro(web)
    return out


def _entry(vendor: str, order: int, model: Any, now: dt.datetime) -> dict[str, Any] | None:
    standard = model.get_prices(now)
    prices = _price_set(standard)
    if "input" not in prices or "output" not in prices:
        return None  # not priced by tokens (images, audio, embeddings-only entries)
    variants = []
    for variant in model.price_variants or ():
        if variant.constraint is not None and not variant.constraint.active(now):
            continue
        if not set(variant.when) <= set(VARIANT_KEYS):
            continue
        overrides = _price_set(variant.prices)
        if overrides:
            variants.append({"when": dict(variant.when), "prices": overrides})
    return {"vendor": vendor, "model": model.id, "name": model.name or model.id, "order": order,
            "match": _clause(model.match), "prices": prices, "variants": variants,
            "deprecated": bool(model.deprecated)}


def convert(now: dt.datetime | None = None) -> dict[str, Any]:
    """The catalogue as installed, priced as of ``now``."""
    from genai_prices import data_snapshot

    now = now or dt.datetime.now(dt.timezone.utc)
    snapshot = data_snapshot.get_snapshot()
    entries: list[dict[str, Any]] = []
    for provider in snapshot.providers:
        if provider.id not in VENDORS:
            continue
        for model in provider.models:
            entry = _entry(provider.id, len(entries), model, now)
            if entry is not None:
                entries.append(entry)
    return {"version": "genai-prices " + importlib.metadata.version("genai-prices"),
            "converted_at": now.isoformat(), "entries": entries}


if __name__ == "__main__":
    json.dump(convert(), sys.stdout, separators=(",", ":"))
