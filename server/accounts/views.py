"""JSON shapes of the dashboard's user-side resources, shared by the user API and the operator
API: never a password hash, a key hash or the ledger's marks; money as integer micro-units
next to a display string; times as ISO 8601 UTC.

Field names follow the seed: the key API speaks camelCase (``rateLimit``), the rest snake_case.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.accounts.times import as_utc, iso
from server.pricing.money import PPM, format_micro
from server.storage.keys import TOTAL_FIELDS
from server.storage.usage_queries import TOKEN_KINDS

LEDGER_LABELS = {"recharge": "充值", "charge": "API 调用扣费", "refund": "退款",
                 "adjustment": "余额调整", "redeem": "兑换码充值"}


def money(name: str, micro: int | None) -> dict[str, Any]:
    """``{name: micro, name_display: "1.5"}`` (None stays None)."""
    return {name: micro, f"{name}_display": None if micro is None else format_micro(int(micro))}


def user_view(user: dict[str, Any]) -> dict[str, Any]:
    """A user as the API shows it (to themselves or to operators)."""
    return {"id": user["_id"], "username": user.get("username"), "email": user.get("email"),
            "role": user.get("role", "user"), "status": user.get("status", "active"),
            **money("balance", int(user.get("balance", 0))), "created_at": iso(user.get("created_at"))}


def key_view(key: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """A key's listing fields (never its hash; the full key only at creation)."""
    totals = key.get("totals") or {}
    usage: dict[str, Any] = {name: int(totals.get(name, 0) or 0) for name in TOTAL_FIELDS}
    usage["costDisplay"] = format_micro(usage["cost"])
    expires_at = as_utc(key.get("expires_at"))
    quota = int(key.get("spend_quota", 0) or 0)
    return {"id": key["_id"], "prefix": key.get("prefix"), "name": key.get("name"),
            "group": key.get("group"), "rateLimit": key.get("rate_limit", 0),
            "maxConcurrency": key.get("max_concurrency", 0), "models": key.get("models", []),
            "expiresAt": iso(expires_at), "expired": expires_at is not None and expires_at <= now,
            "spendQuota": quota, "spendQuotaDisplay": format_micro(quota),
            "status": key.get("status"), "createdAt": iso(key.get("created_at")),
            "lastUsedAt": iso(key.get("last_used_at")), "usage": usage}


def order_view(order: dict[str, Any]) -> dict[str, Any]:
    """A recharge order."""
    return {"id": order["_id"], "user_id": order.get("user_id"), **money("amount", order.get("amount", 0)),
            "description": order.get("description", ""), "method": order.get("method", "manual"),
            "status": order.get("status"), "created_at": iso(order.get("created_at")),
            "decided_at": iso(order.get("decided_at")), "decided_by": order.get("decided_by"),
            "reason": order.get("reason", ""), "ledger_id": order.get("ledger_id")}


def code_view(code: dict[str, Any]) -> dict[str, Any]:
    """A redeem code (operators only)."""
    return {"id": code["_id"], "code": code.get("code"), **money("amount", code.get("amount", 0)),
            "status": code.get("status"), "expires_at": iso(code.get("expires_at")),
            "created_by": code.get("created_by"), "created_at": iso(code.get("created_at")),
            "redeemed_by": code.get("redeemed_by"), "redeemed_at": iso(code.get("redeemed_at"))}


def usage_row_view(row: dict[str, Any]) -> dict[str, Any]:
    """One request of the user's log (upstream account details are the operator's business)."""
    ppm = int(row.get("multiplier_ppm", PPM) or 0)
    tokens = row.get("tokens") or {}
    prices = row.get("prices") or {}
    return {"id": row["_id"], "ts": iso(row.get("ts")), "key_id": row.get("key_id"),
            "key_name": row.get("key_name", ""), "model": row.get("model"), "group": row.get("group"),
            "protocol": row.get("protocol"), "endpoint": row.get("endpoint"),
            "stream": bool(row.get("stream")), "status": row.get("status"), "outcome": row.get("outcome"),
            "tokens": {kind: int(tokens.get(kind, 0) or 0) for kind in TOKEN_KINDS},
            "prices": {kind: int(v) for kind, v in prices.items()},
            "prices_display": {kind: format_micro(int(v)) for kind, v in prices.items()},
            "price_rule": row.get("price_rule"), "multiplier_ppm": ppm, "multiplier": format_micro(ppm),
            **money("cost", int(row.get("cost", 0) or 0)), "latency_ms": row.get("latency_ms"),
            "ttft_ms": row.get("ttft_ms"), "upstream_request_id": row.get("upstream_request_id"),
            # What the relay changed to keep the session alive, by kind (the details name accounts).
            "repairs": [str(note).split(":", 1)[0] for note in row.get("repairs") or ()],
            **billed_extras(row), **_priced_view(row)}


def billed_extras(row: dict[str, Any]) -> dict[str, Any]:
    """What the vendor bills beyond tokens, and whether the figures are an estimate (a cut
    stream whose final usage never came; ``estimate_method`` says how)."""
    return {"web_search_requests": int(row.get("web_search_requests", 0) or 0),
            "service_tier": row.get("service_tier") or "", "speed": row.get("speed") or "",
            "estimated": bool(row.get("estimated", False)), "estimate_method": row.get("estimate_method")}


def _priced_view(row: dict[str, Any]) -> dict[str, Any]:
    """The cost lines beyond tokens (long-context premium, service tier / speed difference, web
    search) and how the row was priced (tier, variant, base model), as stored with it."""
    parts = {k: int(v) for k, v in (row.get("cost_parts") or {}).items()}
    pricing = row.get("pricing") or {}
    return {"cost_parts": parts, "cost_parts_display": {k: format_micro(v) for k, v in parts.items()},
            "pricing": {k: pricing.get(k) for k in ("tier", "variant", "web_search_requests", "source",
                                                     "catalogue_version", "base_model") if k in pricing}}


def ledger_row_view(entry: dict[str, Any]) -> dict[str, Any]:
    """One balance transaction with a readable description."""
    meta = entry.get("meta") or {}
    description = LEDGER_LABELS.get(entry.get("type", ""), entry.get("type", ""))
    detail = meta.get("description") or meta.get("model") or ""
    if detail:
        description = f"{description}({detail})"
    rows = entry.get("rows") if entry.get("rows_of") else None  # a usage flush's entry (issue 15)
    if rows and rows > 1 and not detail:
        description = f"{description}({rows} 次请求)"
    return {"id": entry["_id"], "type": entry.get("type"), **money("amount", entry.get("amount", 0)),
            **money("balance_after", entry.get("balance_after")), "ref": entry.get("ref", ""),
            "ts": iso(entry.get("ts")), "description": description, "applied": bool(entry.get("applied")),
            "rows": rows, "rows_url": f"/api/user/transactions/{entry['_id']}/rows" if rows else None}
