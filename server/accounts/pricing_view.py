"""``GET /api/user/pricing``: every price a user can be charged, per million tokens, as is and
under each group's multiplier: the operator's rules (marked as changed by the operator) and
the catalogue in force (its version, long-context tiers, service-tier/speed prices, web search
per thousand requests), each catalogue model naming the operator rule that beats it, if any."""

from __future__ import annotations

from typing import Any, Mapping

from server.accounts.times import iso
from server.pricing.money import PPM, div_round_half_up, format_micro
from server.pricing.price_sets import KINDS
from server.pricing.pricing import PriceRule, overriding_pattern
from server.storage.prices import PriceStore


def scaled(prices: Mapping[str, int], multiplier_ppm: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in (*KINDS, "web_search"):
        if kind in prices:
            micro = div_round_half_up(int(prices[kind]) * multiplier_ppm, PPM)
            out[kind] = format_micro(micro)
            out[f"{kind}_micro"] = micro
    return out


def _extras(rule: PriceRule, ppm: int) -> dict[str, Any]:
    standard = rule.standard()
    return {"prices": scaled({**standard.base, "web_search": rule.web_search}, ppm),
            "tiers": [{"above": above, "prices": scaled(p, ppm)} for above, p in standard.tiers],
            "variants": [{"when": dict(v.when), "prices": scaled(v.prices.base, ppm),
                          "tiers": [{"above": a, "prices": scaled(p, ppm)} for a, p in v.prices.tiers]}
                         for v in rule.variants]}


def _row(rule: PriceRule, groups: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"pattern": rule.pattern, "source": rule.source, "placeholder": rule.placeholder,
            "note": rule.note, **fields, **_extras(rule, PPM),
            "groups": [{"group": g["name"], "protocol": g.get("protocol"),
                        "multiplier": format_micro(int(g.get("multiplier_ppm", PPM))),
                        "multiplier_ppm": int(g.get("multiplier_ppm", PPM)),
                        **_extras(rule, int(g.get("multiplier_ppm", PPM)))} for g in groups]}


async def pricing(prices: PriceStore, groups: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    """Operator rules first, then the catalogue entries in force."""
    rules = await prices.rules()
    status = await prices.status()
    operator = [r for r in rules if r.source != "catalogue"]
    data = [_row(r, groups, operator_changed=True, explicit=sorted(r.explicit), review=r.review)
            for r in sorted(operator, key=lambda r: r.pattern)]
    for rule in await prices.catalogue_rules():
        beaten = overriding_pattern((o.pattern for o in operator), rule.pattern)
        data.append(_row(rule, groups, operator_changed=False, catalogue_version=rule.version,
                         overridden_by=beaten))
    return {"currency": currency, "unit": "per_million_tokens", "web_search_unit": "per_thousand_requests",
            "catalogue": {"version": status["active"], "applied_at": iso(status["applied_at"]),
                          "pending": status["pending"]},
            "operator_rules": [r.pattern for r in sorted(operator, key=lambda r: r.pattern)],
            "groups": [{"name": g["name"], "protocol": g.get("protocol"),
                        "multiplier": format_micro(int(g.get("multiplier_ppm", PPM))),
                        "description": g.get("description", "")} for g in groups],
            "data": data}
