"""Validation of an upstream account as the operator sends it: every field checked, each
refusal a 400 naming the field. ``api_key`` is write-only: required on create, optional on edit."""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import urlsplit

from server.accounts import fields as f
from server.errors import BadRequest
from server.i18n import either, t
from server.proxy_urls import ProxyError, check_proxy_setting
from server.storage.upstreams import PROTOCOLS

EDITABLE = ("name", "groups", "protocol", "base_url", "api_key", "weight", "priority", "enabled",
            "models", "model_map", "max_concurrency", "notes", "proxy")
_NAME = re.compile(r"[\w.@-]{1,64}")
_MODEL = r"[A-Za-z0-9._:/@*?\[\]-]+"


def _boolean(body: Mapping[str, Any], name: str) -> bool:
    value = body[name]
    if not isinstance(value, bool):
        raise BadRequest(t("{name} 必须是布尔值", name=name), field=name)
    return value


def _base_url(body: Mapping[str, Any]) -> str:
    url = f.text(body, "base_url", max_len=500, min_len=1)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(t("base_url 必须是 http:// 或 https:// 开头的地址"), field="base_url")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise BadRequest(t("base_url 不能包含查询参数、片段或用户名密码"), field="base_url")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or not url.isascii() or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise BadRequest(t("base_url 的端口必须在 1–65535 之间,且地址只能包含可见的 ASCII 字符"
                         "(国际化域名请写成 xn-- 形式)"), field="base_url")
    return url.rstrip("/")


def _api_key(body: Mapping[str, Any]) -> str:
    key = f.text(body, "api_key", max_len=1000, min_len=1)
    # It travels in an HTTP header: visible ASCII only (no spaces, no CJK or full-width look-alikes).
    if not all(0x21 <= ord(c) <= 0x7e for c in key):
        raise BadRequest(t("api_key 只能包含可见的 ASCII 字符(不能有空白、中文或全角字符)"), field="api_key")
    return key


def _proxy(body: Mapping[str, Any]) -> str:
    value = body["proxy"]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(t("proxy 必须是字符串"), field="proxy")
    try:
        return check_proxy_setting(value)
    except ProxyError as exc:
        raise BadRequest(t("proxy {reason}(留空 = 使用全局代理,direct = 不使用代理)", reason=exc.text),
                         field="proxy") from None


def _model_map(body: Mapping[str, Any]) -> dict[str, str]:
    value = body["model_map"]
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 200:
        raise BadRequest(t("model_map 必须是对象(最多 200 项),例如 {\"claude-x\": \"claude-y\"}"),
                         field="model_map")
    out = {}
    for src, dst in value.items():
        if (not isinstance(dst, str) or not re.fullmatch(_MODEL, src) or not re.fullmatch(_MODEL, dst)
                or len(src) > 128 or len(dst) > 128 or "." in src or src.startswith("$")):
            raise BadRequest(t("model_map 含有无效的映射 {source!r}", source=str(src)[:40]),
                             field="model_map")
        out[src] = dst
    return out


def parse_upstream(body: Mapping[str, Any], *, partial: bool, known_groups: set[str]) -> dict[str, Any]:
    """The validated fields of ``body`` (all required ones when not ``partial``)."""
    unknown = [k for k in body if k not in EDITABLE]
    if unknown:
        raise BadRequest(t("未知字段 {field}", field=unknown[0]), field=unknown[0])
    if not partial:
        for name in ("name", "protocol", "base_url", "api_key"):
            if body.get(name) in (None, ""):
                raise BadRequest(t("缺少字段 {name}", name=name), field=name)
    out: dict[str, Any] = {}
    if "name" in body:
        name = f.text(body, "name", max_len=64, min_len=1)
        if not _NAME.fullmatch(name):
            raise BadRequest(t("name 只能包含字母、数字、下划线、点、@ 和连字符(最多 64 个字符)"),
                             field="name")
        out["name"] = name
    if "groups" in body:
        groups = f.string_list(body, "groups", max_items=50, max_len=64, pattern=r"[\w.-]+")
        missing = [g for g in groups if g not in known_groups]
        if missing:
            raise BadRequest(t("分组 {group} 不存在", group=missing[0]), field="groups")
        out["groups"] = groups
    if "protocol" in body:
        if body["protocol"] not in PROTOCOLS:
            raise BadRequest(t("protocol 必须是 {choices}", choices=either(PROTOCOLS)), field="protocol")
        out["protocol"] = body["protocol"]
    if "base_url" in body:
        out["base_url"] = _base_url(body)
    if body.get("api_key") not in (None, ""):
        out["api_key"] = _api_key(body)
    if "weight" in body:
        out["weight"] = f.integer(body, "weight", minimum=1, maximum=1000)
    if "priority" in body:
        out["priority"] = f.integer(body, "priority", minimum=-1000, maximum=1000)
    if "enabled" in body:
        out["enabled"] = _boolean(body, "enabled")
    if "models" in body:
        out["models"] = f.string_list(body, "models", max_items=200, pattern=_MODEL)
    if "model_map" in body:
        out["model_map"] = _model_map(body)
    if "max_concurrency" in body:
        out["max_concurrency"] = f.integer(body, "max_concurrency", minimum=0, maximum=100_000)
    if "proxy" in body:
        out["proxy"] = _proxy(body)
    if "notes" in body:
        out["notes"] = f.text(body, "notes", required=False, max_len=2000, visible=False)
    return out
