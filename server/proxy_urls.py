"""Outbound proxy URLs: parsed and checked once, masked wherever they are shown.

Accepted: ``http://[user:pass@]host:port`` (HTTP CONNECT for https targets, absolute-form
requests for http ones), ``socks5://`` (names resolved here) and ``socks5h://`` (names resolved
by the proxy). An account's ``proxy`` field overrides the global ``upstream_proxy`` setting:
empty inherits it, ``direct`` bypasses it. Credentials never leave this module unmasked except
into the connection itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from server.i18n import Text, t

SCHEMES = ("http", "socks5", "socks5h")
DIRECT = "direct"
_CREDENTIALS = re.compile(r"(?i)\b((?:https?|socks5h?|socks4a?)://)([^:/@\s]*):([^@/\s]*)@")


@dataclass(frozen=True, slots=True)
class ProxyUrl:
    """A checked proxy URL (``url`` keeps the credentials for the connection itself)."""

    url: str
    scheme: str
    host: str
    port: int
    username: str
    password: str

    @property
    def masked(self) -> str:
        return mask_proxy(self.url)


class ProxyError(ValueError):
    """A proxy URL that cannot be used; ``text`` says why in either language (``str``: Chinese)."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


def parse_proxy(url: str) -> ProxyUrl:
    """The proxy URL checked, or ``ProxyError`` saying what is wrong (never echoing a password)."""
    if not isinstance(url, str) or not url.strip():
        raise ProxyError(t("代理地址为空"))
    url = url.strip()
    if len(url) > 500 or any(ord(c) < 0x21 or ord(c) > 0x7e for c in url):
        raise ProxyError(t("代理地址只能包含可见的 ASCII 字符"))
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise ProxyError(t("代理地址必须以 http://、socks5:// 或 socks5h:// 开头"))
    if not parts.hostname:
        raise ProxyError(t("代理地址缺少主机名"))
    try:
        port = parts.port
    except ValueError:
        raise ProxyError(t("代理端口必须在 1–65535 之间")) from None
    if port is None or not 1 <= port <= 65535:
        raise ProxyError(t("代理地址必须写明端口(1–65535),例如 http://127.0.0.1:3128"))
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProxyError(t("代理地址不能包含路径、查询参数或片段"))
    return ProxyUrl(url=url, scheme=parts.scheme.lower(), host=parts.hostname, port=port,
                    username=unquote(parts.username or ""), password=unquote(parts.password or ""))


def check_proxy_setting(value: str) -> str:
    """An account's ``proxy`` field as stored: "", "direct" or a checked URL."""
    value = (value or "").strip()
    if value in ("", DIRECT):
        return value
    return parse_proxy(value).url


def resolve_proxy(account: Mapping[str, Any] | None, default: str) -> str | None:
    """The proxy URL an account's calls go through (None = direct)."""
    own = str((account or {}).get("proxy") or "").strip()
    if own == DIRECT:
        return None
    return own or (default.strip() or None)


def mask_proxy(text: str) -> str:
    """``scheme://user:***@host:port``: the password of every proxy URL in ``text`` hidden."""
    if not text:
        return text
    return _CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}:***@", text)
