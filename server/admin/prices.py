"""Operator editing of price rules (decimal strings per million tokens in, the same out) and the
review of a newer price catalogue. A change applies to requests admitted after it: usage rows
keep the prices they were charged.

An operator rule remembers which prices were set explicitly (``explicit``); the others follow
the input price by the model's own ratios: the catalogue entry's for the model the pattern
names, else Anthropic's 1.25×/2×/0.1× (so editing the input of a rule moves its derived cache
prices with it). A catalogue entry is not edited in place: editing it creates an operator rule
for that model, which beats the entry; deleting that rule goes back to the catalogue."""

from __future__ import annotations

import builtins
import re
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Mapping

from server.accounts import fields as f
from server.accounts.times import iso
from server.admin.audit import AuditLog
from server.errors import BadRequest, Conflict, NotFound
from server.i18n import t
from server.pricing.catalogue import entry_view
from server.pricing.money import format_micro
from server.pricing.price_sets import ANTHROPIC_RATIOS, CACHE_KINDS, KINDS
from server.pricing.pricing import PriceRule, find_rule, overriding_pattern

if TYPE_CHECKING:
    from server.pools.manager import PoolManager
    from server.storage.prices import PriceStore

_PATTERN = re.compile(r"[A-Za-z0-9._:/@*?\[\]-]{1,128}")
ALLOWED = ("pattern", *KINDS, "web_search", "note", "placeholder")
CATALOGUE_ID = "cat:"


def _fmt(prices: Mapping[str, Any]) -> dict[str, Any]:
    return {k: format_micro(int(v)) if isinstance(v, int) else v for k, v in prices.items()}


def price_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An operator rule."""
    return {"id": doc["_id"], "pattern": doc["pattern"], "source": "operator",
            **{k: format_micro(int(doc.get(k, 0))) for k in KINDS},
            "web_search": format_micro(int(doc.get("web_search", 0) or 0)),
            "explicit": list(doc.get("explicit") or KINDS), "review": doc.get("review", ""),
            "placeholder": bool(doc.get("placeholder", False)), "note": doc.get("note", ""),
            "updated_at": iso(doc.get("updated_at"))}


def catalogue_view(entry: dict[str, Any], version: str, overridden_by: str | None) -> dict[str, Any]:
    """A catalogue entry (prices as decimal strings; tiers and variants included)."""
    view = entry_view(entry, version)
    return {"id": CATALOGUE_ID + entry["model"], "pattern": entry["model"], "source": "catalogue",
            "version": version, "vendor": view["vendor"], "note": view["name"],
            **_fmt({k: view[k] for k in KINDS}), "web_search": format_micro(view["web_search"]),
            "tiers": [_fmt(t) for t in view["tiers"]],
            "variants": [{**_fmt({k: v for k, v in var.items() if k != "when"}), "when": var["when"],
                          "tiers": [_fmt(t) for t in var["tiers"]]} for var in view["variants"]],
            "overridden_by": overridden_by, "placeholder": False, "explicit": [], "review": ""}


def catalogue_entry_for(pattern: str, catalogue: list[PriceRule]) -> PriceRule | None:
    """The catalogue entry of the model ``pattern`` names (its literal part for a glob)."""
    name = re.split(r"[*?\[]", pattern, maxsplit=1)[0].rstrip("-.")
    return find_rule(catalogue, name) if name else None


def ratios_for(pattern: str, catalogue: list[PriceRule]) -> dict[str, Fraction]:
    """The cache/input ratios of the model ``pattern`` names: the catalogue's for that model,
    else Anthropic's 1.25×/2×/0.1×."""
    rule = catalogue_entry_for(pattern, catalogue)
    if rule is not None and rule.input > 0:
        return {k: Fraction(getattr(rule, k), rule.input) for k in CACHE_KINDS}
    return dict(ANTHROPIC_RATIOS)


def _rule(body: dict[str, Any], base: dict[str, Any] | None, catalogue: list[PriceRule]) -> PriceRule:
    unknown = [k for k in body if k not in ALLOWED]
    if unknown:
        raise BadRequest(t("未知字段 {field}", field=unknown[0]), field=unknown[0])
    pattern = f.text(body, "pattern", max_len=128, min_len=1) if "pattern" in body or base is None \
        else base["pattern"]
    if not _PATTERN.fullmatch(pattern):
        raise BadRequest(t("pattern 必须是模型名或通配符(如 claude-opus-*)"), field="pattern")
    explicit = set((base or {}).get("explicit") or (KINDS if base is not None else ()))
    money: dict[str, int | None] = {}
    for kind in KINDS:
        if kind in body and body[kind] is None and kind in CACHE_KINDS:
            explicit.discard(kind)  # null: follow the input price again
            money[kind] = None
        elif kind in body:
            money[kind] = f.money(body, kind, required=kind in ("input", "output"), maximum=10**11)
            explicit.add(kind)
        elif base is not None and (kind in explicit or kind in ("input", "output")):
            money[kind] = int(base[kind])
        elif kind in ("input", "output"):
            raise BadRequest(t("缺少字段 {kind}", kind=kind), field=kind)
        else:
            money[kind] = None  # derived from input by the model's ratios
    if "web_search" in body:
        web_search = f.money(body, "web_search", required=False, maximum=10**11)
    elif base is not None:
        web_search = int(base.get("web_search", 0) or 0)
    else:  # the vendor bills web search whatever the token prices: the catalogue's price for the model
        entry = catalogue_entry_for(pattern, catalogue)
        web_search = entry.web_search if entry is not None else 0
    placeholder = body.get("placeholder", bool((base or {}).get("placeholder", False)))
    if not isinstance(placeholder, bool):
        raise BadRequest(t("placeholder 必须是布尔值"), field="placeholder")
    note = (f.text(body, "note", required=False, max_len=500) if "note" in body
            else (base or {}).get("note", ""))
    input_price, output_price = money.pop("input"), money.pop("output")
    assert input_price is not None and output_price is not None  # required above
    rule = PriceRule.build(pattern, input_price, output_price, placeholder=placeholder,
                           note=note, ratios=ratios_for(pattern, catalogue), web_search=web_search, **money)
    return rule  # without ``review``: an operator who saved the rule has reviewed it


class PriceAdmin:
    """List, create, edit and delete price rules; review and apply a newer catalogue."""

    def __init__(self, audit: AuditLog, prices: PriceStore, pools: PoolManager) -> None:
        self.audit = audit
        self.prices = prices
        self.pools = pools

    async def list(self) -> list[dict[str, Any]]:
        """Operator rules first, then the catalogue in force (each marked if a rule beats it)."""
        prices = self.prices
        docs = await prices.list_docs()
        operator = [price_view(d) for d in docs]
        status = await prices.status()
        entries = ((await prices.catalogue_doc(status["active"])) or {}).get("entries") or []
        patterns = [d["pattern"] for d in docs]
        rows = []
        for entry in entries:
            beaten = overriding_pattern(patterns, entry["model"])
            rows.append(catalogue_view(entry, status["active"], beaten))
        return operator + rows

    async def catalogue(self) -> dict[str, Any]:
        """The catalogue in force, the installed one, and the difference a review would apply."""
        review = await self.prices.review()
        return {**review, "applied_at": iso(review["applied_at"]), "served": await self.served()}

    async def served(self) -> builtins.list[dict[str, Any]]:  # ``list`` is a method here
        """How each model the pools offer is priced now: an operator rule, the catalogue, the
        catalogue entry of its base model (flagged), or nothing (refused before any upstream call)."""
        rules = await self.prices.rules()
        out = []
        for model in sorted(await self.pools.served_models()):
            rule = find_rule(rules, model)
            out.append({"model": model, "source": None if rule is None else rule.source,
                        "rule": None if rule is None else rule.pattern,
                        "base_model": None if rule is None else rule.base_model or None,
                        "input": None if rule is None else format_micro(rule.input),
                        "output": None if rule is None else format_micro(rule.output)})
        return out

    async def apply(self, admin_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Put the reviewed version in force (it must be the one awaiting review)."""
        version = body.get("version")
        status = await self.prices.status()
        if not isinstance(version, str) or version != status["pending"]:
            raise Conflict(t("没有待应用的价格目录版本 {version!r}(待审核:{pending!r})",
                             version=version, pending=status['pending']),
                           field="version")
        await self.prices.apply(version, admin_id)
        await self.audit.record(admin_id, "price.catalogue.apply", version, {"active": status["active"]},
                                {"active": version})
        return await self.catalogue()

    async def _get(self, price_id: str) -> dict[str, Any]:
        for doc in await self.prices.list_docs():
            if doc["_id"] == price_id:
                return doc
        raise NotFound(t("价格规则不存在"))

    async def _taken(self, pattern: str, except_id: str | None = None) -> dict[str, Any] | None:
        return next((d for d in await self.prices.list_docs()
                     if d["pattern"] == pattern and d["_id"] != except_id), None)

    async def create(self, admin_id: str, body: dict[str, Any]) -> dict[str, Any]:
        rule = _rule(body, None, await self.prices.catalogue_rules())
        if await self._taken(rule.pattern):
            raise Conflict(t("该模式的价格规则已存在"), field="pattern")
        doc = await self.prices.upsert(rule)
        await self.audit.record(admin_id, "price.create", doc["_id"], None, doc)
        return price_view(doc)

    async def update(self, admin_id: str, price_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if price_id.startswith(CATALOGUE_ID):
            return await self._override(admin_id, price_id[len(CATALOGUE_ID):], body)
        before = await self._get(price_id)
        rule = _rule(body, before, await self.prices.catalogue_rules())
        if rule.pattern != before["pattern"]:
            if await self._taken(rule.pattern, price_id):
                raise Conflict(t("该模式的价格规则已存在"), field="pattern")
            # The store keys rules by pattern: a renamed pattern is a new rule replacing the old.
            await self.prices.delete(price_id)
        doc = await self.prices.upsert(rule)
        await self.audit.record(admin_id, "price.update", price_id, before, doc)
        return price_view(doc)

    async def _override(self, admin_id: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """Editing a catalogue entry: an operator rule for that model (the entry stays beneath)."""
        entry = next((r for r in await self.prices.catalogue_rules() if r.pattern == model), None)
        if entry is None:
            raise NotFound(t("价格目录中没有该模型"))
        existing = await self._taken(model)
        if existing is not None:
            rest = {k: v for k, v in body.items() if k != "pattern"}
            return await self.update(admin_id, existing["_id"], rest)
        start = {"pattern": model, "input": format_micro(entry.input), "output": format_micro(entry.output),
                 "web_search": format_micro(entry.web_search),
                 **{k: v for k, v in body.items() if k != "pattern"}}
        return await self.create(admin_id, start)

    async def delete(self, admin_id: str, price_id: str) -> None:
        if price_id.startswith(CATALOGUE_ID):
            raise BadRequest(t("价格目录条目不能删除:新增同名规则即可覆盖它"), field="id")
        before = await self._get(price_id)
        await self.prices.delete(price_id)
        await self.audit.record(admin_id, "price.delete", price_id, before, None)
