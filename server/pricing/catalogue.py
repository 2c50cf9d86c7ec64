"""The price catalogue: converted from the installed ``genai-prices`` in a short-lived process,
turned into catalogue rules, and compared between versions for the operator's review.

The serving process never imports the library (pydantic and its data cost ~15 MB of RSS,
measured): ``convert_installed`` runs ``server.pricing.catalogue_convert`` as a subprocess,
once per installed version and process, and the result lives in the database."""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import sys
from typing import Any, Mapping

import orjson

from server.pricing.price_sets import KINDS, matcher, price_set
from server.pricing.pricing import PriceRule, Variant

log = logging.getLogger(__name__)
LIBRARY = "genai-prices"
# Per installed version, a process converts once: a pure function of the installed package,
# which cannot change under a running process (a memo, not shared state).
_converted: dict[str, dict[str, Any]] = {}


def installed_version() -> str | None:
    """The catalogue version the installed library would give ("genai-prices 0.2.5"), or None."""
    try:
        return f"{LIBRARY} {importlib.metadata.version(LIBRARY)}"
    except importlib.metadata.PackageNotFoundError:
        return None


async def convert_installed(timeout: float = 120.0) -> dict[str, Any]:
    """The installed catalogue as converted entries (offline: the library's bundled snapshot)."""
    version = installed_version()
    if version is None:
        raise RuntimeError(f"{LIBRARY} is not installed")
    if version not in _converted:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.pricing.catalogue_convert",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"catalogue conversion failed: {err.decode(errors='replace')[-500:]}")
        _converted[version] = orjson.loads(out)
    return _converted[version]


def entry_rule(entry: Mapping[str, Any], version: str) -> PriceRule:
    """One converted catalogue entry as a rule (tiers, variants and web search included)."""
    vendor = entry["vendor"]
    standard = price_set(entry["prices"], vendor)
    variants = tuple(Variant(when=dict(v["when"]), prices=price_set(v["prices"], vendor, entry["prices"]))
                     for v in entry.get("variants") or ())
    base = standard.base
    return PriceRule(pattern=entry["model"], input=base["input"], output=base["output"],
                     cache_write_5m=base["cache_write_5m"], cache_write_1h=base["cache_write_1h"],
                     cache_read=base["cache_read"], source="catalogue", tiers=standard,
                     variants=variants, web_search=int(entry["prices"].get("web_search", 0) or 0),
                     version=version, explicit=frozenset(), match=matcher(entry["match"]),
                     order=int(entry["order"]), note=entry.get("name", ""))


def catalogue_rules(doc: Mapping[str, Any] | None) -> list[PriceRule]:
    if not doc:
        return []
    return [entry_rule(e, doc["_id"]) for e in doc.get("entries") or ()]


def entry_view(entry: Mapping[str, Any], version: str) -> dict[str, Any]:
    """An entry as the API shows it: base prices, tiers, variants, web search (micro-units)."""
    rule = entry_rule(entry, version)
    return {"model": entry["model"], "vendor": entry["vendor"], "name": entry.get("name", ""),
            **rule.prices(), "tiers": [{"above": a, **p} for a, p in rule.standard().tiers],
            "variants": [{"when": v.when, **v.prices.base,
                          "tiers": [{"above": a, **p} for a, p in v.prices.tiers]} for v in rule.variants],
            "web_search": rule.web_search}


def diff(active: Mapping[str, Any] | None, pending: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """What applying ``pending`` over ``active`` changes, per model: added, removed, changed."""
    def index(doc: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
        if not doc:
            return {}
        return {e["model"]: entry_view(e, doc["_id"]) for e in doc.get("entries") or ()}

    old, new = index(active), index(pending)
    out = []
    for model in sorted(set(old) | set(new)):
        before, after = old.get(model), new.get(model)
        if before == after:
            continue
        change = "added" if before is None else "removed" if after is None else "changed"
        fields = [] if change != "changed" else [k for k in (*KINDS, "tiers", "variants", "web_search")
                                                 if before.get(k) != after.get(k)]  # type: ignore[union-attr]
        out.append({"model": model, "change": change, "fields": fields, "before": before, "after": after})
    return out
