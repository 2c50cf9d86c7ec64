"""All upstream HTTP in one place: aiohttp's client, one long-lived keep-alive pool per process.

Why aiohttp: it is already a dependency, keeps connections per origin (and per proxy), speaks
TLS with happy eyeballs, tunnels through HTTP proxies (CONNECT for https, absolute-form for
http) and, with ``aiohttp-socks``, through SOCKS5; it decodes gzip, deflate, br and zstd and
skips 1xx answers (``103 Early Hints``). The relay's own HTTP/1.1 client it replaced was ~0.1 ms
of CPU per call cheaper (bench/upstream_clients.py) but every framing edge case was ours.

Timeouts are by phase (``Timeouts``: connect, head, total, idle) and each one that runs out is
its own exception type (``server.upstream.errors``); the relay's policy decides what
fails over. Redirects are never followed. Only allow-listed client headers are forwarded, and
the client's credentials are replaced by the account's."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import re
import ssl
import warnings
from typing import Any, Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp.compression_utils import HAS_BROTLI, HAS_ZSTD
from yarl import URL

from server.proxy_urls import ProxyUrl, parse_proxy, resolve_proxy
from server.settings import Settings
from server.upstream.errors import (
    Timeouts,
    UpstreamConfigError,
    UpstreamEncodingError,
    UpstreamError,
    UpstreamTimeout,
)
from server.upstream.response import UpstreamResponse, translate

__all__ = ["FORWARDED_HEADERS", "Timeouts", "UpstreamClient", "UpstreamError",
           "UpstreamResponse", "UpstreamTimeout", "forward_headers", "origin"]

FORWARDED_HEADERS = frozenset({
    "anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access",
    "content-type", "accept", "user-agent", "x-app", "x-claude-code-session-id",
    "x-stainless-retry-count", "x-stainless-timeout", "x-stainless-lang", "x-stainless-package-version",
    "x-stainless-os", "x-stainless-arch", "x-stainless-runtime", "x-stainless-runtime-version",
    "x-stainless-helper-method", "x-stainless-stream-helper", "x-stainless-read-timeout",
    "openai-beta", "session-id", "thread-id", "x-client-request-id", "originator",
    "x-codex-turn-metadata", "x-codex-beta-features", "x-codex-window-id", "version",
})

# Encodings this installation decodes (br needs ``brotli``, zstd ``backports.zstd`` before 3.14).
DECODED_ENCODINGS = frozenset({"gzip", "deflate"} | ({"br"} if HAS_BROTLI else set())
                              | ({"zstd"} if HAS_ZSTD else set()))
_TOKEN = re.compile(r"[\x21-\x7e]+")  # what an API key may contain: visible ASCII
_CREDENTIAL_HEADERS = ("x-api-key", "authorization")
DEFAULT = object()  # ``proxy=DEFAULT``: the global ``upstream_proxy`` setting


def forward_headers(client_headers: Mapping[str, str], protocol: str, api_key: str) -> dict[str, str]:
    """The allow-listed client headers plus the account's credentials."""
    out = {k: v for k, v in client_headers.items() if k.lower() in FORWARDED_HEADERS}
    if protocol == "anthropic":
        out["x-api-key"] = api_key
        out.setdefault("anthropic-version", "2023-06-01")
    else:
        out["authorization"] = f"Bearer {api_key}"
    out["content-type"] = "application/json"
    # Upstreams may compress anyway (the client decodes); asking for identity spares the CPU.
    out["accept-encoding"] = "identity"
    return out


@functools.lru_cache(maxsize=4096)
def _origin(url: str) -> URL:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamConfigError("base_url 必须是 http:// 或 https:// 开头、带主机名的地址")
    try:
        parts.port  # noqa: B018 - reading it validates the port (ValueError)
    except ValueError:
        raise UpstreamConfigError("base_url 的端口必须在 1–65535 之间") from None
    if parts.port == 0:
        raise UpstreamConfigError("base_url 的端口必须在 1–65535 之间")
    try:
        return URL(url)
    except (ValueError, TypeError) as exc:
        raise UpstreamConfigError(f"base_url 无效({type(exc).__name__})") from None


def origin(url: str | URL) -> URL:
    """The checked target URL, parsed once per account and path (``UpstreamConfigError`` if the
    account's URL cannot be used)."""
    return url if isinstance(url, URL) else _origin(url)


def check_credentials(headers: Mapping[str, str]) -> None:
    """The account's key must be visible ASCII; any header must be free of line breaks."""
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\0" in value:
            raise UpstreamConfigError(f"请求头 {name} 含有换行或 NUL 字符")
    for name in _CREDENTIAL_HEADERS:
        credential = headers.get(name)
        if credential is not None and not _TOKEN.fullmatch(credential.removeprefix("Bearer ")):
            raise UpstreamConfigError("api_key 只能包含可见的 ASCII 字符(不能有空白、中文或全角字符)")


def _large_payload(body: bytes) -> aiohttp.payload.BytesPayload:
    """A body over 1 MiB (Claude Code's long conversations) as aiohttp's bytes payload, without
    its ResourceWarning: the transport buffers the write without blocking the loop, and the
    bytes are already in memory (bounded by ``max_body_bytes``); a BytesIO would read it back
    through a thread per chunk."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return aiohttp.payload.BytesPayload(body)


class UpstreamClient:
    """The pooled client with the relay's timeouts; created after start-up, closed on shutdown."""

    def __init__(self, settings: Settings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.timeouts = Timeouts(connect=settings.upstream_connect_timeout,
                                 head=settings.upstream_first_byte_timeout, total=None,
                                 idle=settings.upstream_idle_timeout)
        self.proxy = settings.upstream_proxy.strip() or None
        self._ssl = ssl_context
        self._direct: aiohttp.ClientSession | None = None
        self._socks: dict[str, aiohttp.ClientSession] = {}
        self._proxies: dict[str, ProxyUrl] = {}
        self._client_timeouts: dict[Timeouts, tuple[aiohttp.ClientTimeout, bool]] = {}

    # -- set-up ---------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        """The system's CAs plus ``upstream_ca_file`` if set."""
        if self._ssl is None:
            ctx = ssl.create_default_context()
            if self.settings.upstream_ca_file:
                ctx.load_verify_locations(self.settings.upstream_ca_file)
            self._ssl = ctx
        return self._ssl

    def _connector_args(self) -> dict[str, Any]:
        return {"limit": 0, "limit_per_host": 0, "keepalive_timeout": 60.0, "ssl": self.ssl_context(),
                "ttl_dns_cache": 60}

    def _session(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        # No cookies, no redirects, no default headers: each call carries exactly its own.
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     auto_decompress=True, skip_auto_headers=("User-Agent",),
                                     trust_env=False, read_bufsize=2 ** 16)

    def proxy_for(self, account: Mapping[str, Any] | None) -> str | None:
        """The proxy an account's calls go through: its own ``proxy`` field, else the global one."""
        return resolve_proxy(account, self.settings.upstream_proxy)

    def _checked_proxy(self, url: str) -> ProxyUrl:
        proxy = self._proxies.get(url)
        if proxy is None:
            try:
                proxy = parse_proxy(url)
            except ValueError as exc:
                raise UpstreamConfigError(f"代理地址无效:{exc}") from None
            self._proxies[url] = proxy
        return proxy

    def _route(self, proxy: ProxyUrl | None) -> tuple[aiohttp.ClientSession, str | None]:
        """The session (pool) for a proxy, and the ``proxy=`` argument for HTTP proxies."""
        if proxy is None or proxy.scheme == "http":
            if self._direct is None:
                self._direct = self._session(aiohttp.TCPConnector(**self._connector_args()))
            return self._direct, proxy.url if proxy else None  # aiohttp pools per proxy too
        session = self._socks.get(proxy.url)
        if session is None:
            from aiohttp_socks import ProxyConnector, ProxyType
            connector = ProxyConnector(proxy_type=ProxyType.SOCKS5, host=proxy.host, port=proxy.port,
                                       username=proxy.username or None, password=proxy.password or None,
                                       rdns=proxy.scheme == "socks5h", **self._connector_args())
            session = self._socks[proxy.url] = self._session(connector)
        return session, None

    def _client_timeout(self, t: Timeouts) -> tuple[aiohttp.ClientTimeout, bool]:
        """aiohttp's own timeouts for ``t``, and whether idle must be enforced per read here.
        aiohttp's ``sock_read`` also runs while waiting for the head, so it stands for ``idle``
        only when the head bound is the tighter one (streams); else each read sets its own."""
        cached = self._client_timeouts.get(t)
        if cached is None:
            native_idle = t.idle is not None and t.total is None and t.head is not None and t.head <= t.idle
            cached = (aiohttp.ClientTimeout(total=None, connect=t.connect,
                                            sock_read=t.idle if native_idle else None),
                      t.idle is not None and not native_idle)
            if len(self._client_timeouts) < 256:
                self._client_timeouts[t] = cached
        return cached

    # -- the call -------------------------------------------------------------------------
    async def request(self, method: str, url: str | URL, headers: Mapping[str, str],
                      body: bytes | None = None, *, timeouts: Timeouts | None = None,
                      head_timeout: float | None = None, proxy: Any = DEFAULT) -> UpstreamResponse:
        """Send one request; returns once the response head is in, or raises an ``UpstreamError``.

        ``timeouts``: the bounds by phase (default ``self.timeouts``, from the settings).
        ``head_timeout`` overrides only the head bound (``math.inf``: none, for a call the caller
        bounds as a whole). ``proxy``: a proxy URL, None for a direct connection, or (default)
        the global setting; callers with an account pass ``client.proxy_for(account_doc)``."""
        target = origin(url)
        check_credentials(headers)
        t = timeouts or self.timeouts
        if head_timeout is not None:
            t = dataclasses.replace(t, head=head_timeout if math.isfinite(head_timeout) else None)
        proxy_url = self.proxy if proxy is DEFAULT else proxy
        checked = self._checked_proxy(proxy_url) if proxy_url else None
        session, http_proxy = self._route(checked)
        client_timeout, manual_idle = self._client_timeout(t)
        loop = asyncio.get_running_loop()
        now = loop.time()
        head_at = now + t.head if t.head is not None else None
        total_at = now + t.total if t.total is not None else None
        bound, by_total = head_at, False
        if total_at is not None and (bound is None or total_at <= bound):
            bound, by_total = total_at, True
        masked = checked.masked if checked else ""
        data: Any = body
        if body is not None and len(body) > aiohttp.payload.TOO_LARGE_BYTES_BODY:
            data = _large_payload(body)
        try:
            async with asyncio.timeout_at(bound) as scope:
                resp = await session.request(method, target, headers=headers, data=data,
                                             proxy=http_proxy, timeout=client_timeout,
                                             allow_redirects=False)
        except UpstreamError:
            raise
        except BaseException as exc:  # noqa: BLE001 - every library error becomes one of ours
            if isinstance(exc, asyncio.CancelledError) and not scope.expired():
                raise
            raise translate(exc, t, "head", by_total=by_total, expired=scope.expired(),
                            proxy=masked) from None
        try:
            return UpstreamResponse(resp, t, total_at, manual_idle, DECODED_ENCODINGS)
        except UpstreamEncodingError:
            resp.close()
            raise

    async def close(self) -> None:
        sessions = [s for s in (self._direct, *self._socks.values()) if s is not None]
        self._direct, self._socks = None, {}
        for session in sessions:
            await session.close()
