"""Request bodies as JSON objects: one parser, so the dashboard API and the relay refuse bad
bodies with the same clear words (413 over the limit, 400 otherwise), before anything runs."""

from __future__ import annotations

from typing import Any

import orjson

from server.errors import BadRequest, PayloadTooLarge
from server.i18n import t


def parse_json_object(raw: bytes, max_bytes: int) -> dict[str, Any]:
    """The body as a dict, or a domain error naming what is wrong with it."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(t("请求体过大(上限 {max_bytes} 字节)", max_bytes=max_bytes))
    if not raw:
        raise BadRequest(t("请求体必须是 JSON 对象"))
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(t("请求体不是有效的 JSON: {exc}", exc=exc)) from None
    if not isinstance(data, dict):
        raise BadRequest(t("请求体必须是 JSON 对象"))
    return data
