"""Readers for fields of a dashboard request body or query: each checks the JSON type and
bounds, and raises ``BadRequest`` naming the field, so nothing malformed reaches a service."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Mapping

from server.errors import BadRequest
from server.i18n import Text, t
from server.pricing.money import MoneyError, to_micro

_MISSING: Any = object()
# Control and format characters (NUL, bidi overrides, zero-width spaces) have no place in names
# or descriptions; ZWJ stays allowed because emoji sequences need it.
_ALLOWED_FORMAT = {"\u200d"}


def _bad(field: str, message: Text) -> BadRequest:
    return BadRequest(message, field=field)


def has_invisible(text: str) -> bool:
    """True if ``text`` holds a control, format, surrogate or unassigned code point."""
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs", "Co", "Cn") or (cat == "Cf" and ch not in _ALLOWED_FORMAT):
            return True
    return False


def text(body: Mapping[str, Any], name: str, *, required: bool = True, default: str = "",
         max_len: int = 200, min_len: int = 0, strip: bool = True, visible: bool = True) -> str:
    """A string field, NFC-normalised and (by default) stripped and free of invisible characters."""
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise _bad(name, t("缺少字段 {name}", name=name))
        return default
    if not isinstance(value, str):
        raise _bad(name, t("{name} 必须是字符串", name=name))
    value = unicodedata.normalize("NFC", value)
    if strip:
        value = value.strip()
    if visible and has_invisible(value):
        raise _bad(name, t("{name} 含有不可见或控制字符", name=name))
    if required and not value and min_len > 0:
        raise _bad(name, t("{name} 不能为空", name=name))
    if len(value) < min_len:
        raise _bad(name, t("{name} 至少需要 {min_len} 个字符", name=name, min_len=min_len))
    if len(value) > max_len:
        raise _bad(name, t("{name} 不能超过 {max_len} 个字符", name=name, max_len=max_len))
    return value


def integer(body: Mapping[str, Any], name: str, *, default: int | None = None,
            minimum: int = 0, maximum: int = 1_000_000) -> int:
    """An integer field (JSON number without fraction; booleans refused) within bounds."""
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None:
        if default is None:
            raise _bad(name, t("缺少字段 {name}", name=name))
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(name, t("{name} 必须是整数", name=name))
    if not minimum <= value <= maximum:
        raise _bad(name, t("{name} 必须在 {minimum} 到 {maximum} 之间",
                           name=name, minimum=minimum, maximum=maximum))
    return value


def money(body: Mapping[str, Any], name: str, *, required: bool = True, default: int = 0,
          minimum: int = 0, maximum: int = 10**12) -> int:
    """A display-currency amount (number or decimal string, ≤ 6 decimals) as micro-units."""
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None or value == "":
        if required:
            raise _bad(name, t("缺少字段 {name}", name=name))
        return default
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        raise _bad(name, t("{name} 必须是数字或数字字符串", name=name))
    if isinstance(value, str) and (len(value) > 40 or not re.fullmatch(r" *[0-9]+(\.[0-9]+)? *", value)):
        raise _bad(name, t('{name} 必须是非负的十进制数,例如 "100" 或 "12.5"', name=name))
    try:
        micro = to_micro(value)
    except MoneyError as exc:
        reason = str(exc)
        if "decimal" in reason:
            raise _bad(name, t("{name} 最多 6 位小数", name=name)) from None
        if "large" in reason:
            raise _bad(name, t("{name} 超出上限 {limit}", name=name, limit=maximum // 1_000_000)) from None
        raise _bad(name, t("{name} 不是有效的金额", name=name)) from None
    if micro < minimum:
        raise _bad(name, t("{name} 必须大于 0", name=name) if minimum > 0
                   else t("{name} 不能为负数", name=name))
    if micro > maximum:
        raise _bad(name, t("{name} 超出上限 {limit}", name=name, limit=maximum // 1_000_000))
    return micro


def string_list(body: Mapping[str, Any], name: str, *, max_items: int = 100, max_len: int = 128,
                pattern: str = r"[A-Za-z0-9._:/@*?\[\]-]+") -> list[str]:
    """A list of short strings matching ``pattern``; absent or null is the empty list."""
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, list):
        raise _bad(name, t("{name} 必须是字符串数组", name=name))
    if len(value) > max_items:
        raise _bad(name, t("{name} 最多 {max_items} 项", name=name, max_items=max_items))
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _bad(name, t("{name} 的每一项都必须是非空字符串", name=name))
        item = item.strip()
        if len(item) > max_len or not re.fullmatch(pattern, item):
            raise _bad(name, t("{name} 含有无效的项 {item!r}", name=name, item=item[:40]))
        if item not in out:
            out.append(item)
    return out


def query_int(value: str | None, name: str, *, default: int, minimum: int = 0,
              maximum: int = 10**9) -> int:
    """An integer query argument; values above ``maximum`` are capped, garbage is a 400."""
    if value is None or value == "":
        return default
    if not re.fullmatch(r"[0-9]{1,12}", value.strip()):
        raise _bad(name, t("{name} 必须是非负整数", name=name))
    return max(minimum, min(int(value), maximum))
