"""One upstream answer as the relay reads it, and aiohttp's errors turned into the relay's.

``UpstreamResponse`` keeps the interface the relay was written against: ``status``, ``headers``
(a plain dict, names lower-cased, repeated headers joined with ", "), ``read()``,
``content.readany()`` (b"" at the end), ``release()`` (a fully read answer gives its connection
back to the pool) and ``close()`` (drop the connection now). A decoded body's
``content-encoding`` and ``content-length`` are gone from ``headers``."""

from __future__ import annotations

import asyncio
import ssl
from typing import Awaitable, TypeVar

import aiohttp
import aiohttp_socks
import python_socks
from aiohttp import client_exceptions as ce
from aiohttp.http_exceptions import ContentEncodingError

from server.proxy_urls import mask_proxy
from server.upstream.errors import (
    Timeouts,
    UpstreamConfigError,
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamDisconnected,
    UpstreamEncodingError,
    UpstreamError,
    UpstreamHeadTimeout,
    UpstreamIdleTimeout,
    UpstreamProtocolError,
    UpstreamProxyError,
    UpstreamTotalTimeout,
)

T = TypeVar("T")

# SOCKS failures come from python-socks / aiohttp-socks, not through aiohttp's hierarchy.
SOCKS_ERRORS: tuple[type[BaseException], ...] = (
    python_socks.ProxyError, python_socks.ProxyConnectionError, python_socks.ProxyTimeoutError,
    aiohttp_socks.ProxyError, aiohttp_socks.ProxyConnectionError, aiohttp_socks.ProxyTimeoutError)


def translate(exc: BaseException, t: Timeouts, phase: str, *, by_total: bool, expired: bool,
              proxy: str = "") -> UpstreamError:
    """The relay's exception for an aiohttp (or python-socks) one raised during ``phase``."""
    via = f" via proxy {proxy}" if proxy else ""
    text = mask_proxy(str(exc))[:300] or type(exc).__name__
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, ce.ConnectionTimeoutError):
        return UpstreamConnectTimeout(t.connect, via.strip())
    if isinstance(exc, ce.SocketTimeoutError):  # aiohttp's sock_read (= idle) ran out
        return UpstreamIdleTimeout(t.idle) if phase == "body" else UpstreamHeadTimeout(t.head)
    if expired or (isinstance(exc, TimeoutError) and not isinstance(exc, SOCKS_ERRORS)):
        if phase == "body" and not by_total:
            return UpstreamIdleTimeout(t.idle)
        return UpstreamTotalTimeout(t.total) if by_total else UpstreamHeadTimeout(t.head)
    if isinstance(exc, ce.ClientHttpProxyError):
        return UpstreamProxyError(f"proxy {proxy} refused the tunnel: {exc.status} {exc.message}"[:300])
    if isinstance(exc, ce.ClientProxyConnectionError) or (SOCKS_ERRORS and isinstance(exc, SOCKS_ERRORS)):
        return UpstreamProxyError(f"proxy {proxy}: {text}")
    if isinstance(exc, (ce.ClientConnectorCertificateError, ce.ClientSSLError, ssl.SSLError)):
        return UpstreamConnectError(f"TLS{via}: {text}")
    if isinstance(exc, ce.ClientConnectorError):
        return UpstreamConnectError(f"connect{via}: {text}")
    if isinstance(exc, ce.ServerDisconnectedError):
        if phase == "body":
            return UpstreamProtocolError(f"upstream closed the connection mid-answer{via}")
        return UpstreamDisconnected(f"upstream closed the connection before the answer{via}")
    if isinstance(exc, ce.ClientPayloadError):
        cause = exc.__cause__ or exc.__context__
        if "content-encoding" in str(exc).lower() or isinstance(cause, ContentEncodingError):
            return UpstreamEncodingError(f"upstream body could not be decoded: {text}")
        return UpstreamProtocolError(f"upstream body broken off: {text}")
    if isinstance(exc, ce.ClientResponseError):  # the parser refused the answer
        return UpstreamProtocolError(f"upstream answer refused by the HTTP parser: {exc.message}"[:300])
    if isinstance(exc, (ce.InvalidURL, ValueError, UnicodeError)):
        return UpstreamConfigError(f"请求无法发出:{type(exc).__name__}")
    if isinstance(exc, (ce.ClientOSError, OSError)):
        return UpstreamDisconnected(f"connection failed{via}: {text}")
    if isinstance(exc, aiohttp.ClientError):
        return UpstreamProtocolError(f"{type(exc).__name__}: {text}")
    if isinstance(exc, Exception):
        return UpstreamProtocolError(f"{type(exc).__name__}: {text}")
    raise exc


class UpstreamResponse:
    """Status, lower-cased headers, and the body as it arrives."""

    __slots__ = ("status", "reason", "headers", "content", "_resp", "_t", "_total_at", "_manual_idle",
                 "decoded")

    def __init__(self, resp: aiohttp.ClientResponse, t: Timeouts, total_at: float | None,
                 manual_idle: bool, decodable: frozenset[str]) -> None:
        self._resp = resp
        self._t = t
        self._total_at = total_at
        self._manual_idle = manual_idle
        self.status = resp.status
        self.reason = resp.reason or ""
        self.content = self  # aiohttp's spelling: ``response.content.readany()``
        headers: dict[str, str] = {}
        for name, value in resp.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self.decoded = ""
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding and encoding != "identity":
            if encoding not in decodable:
                raise UpstreamEncodingError(
                    f"upstream answered {resp.status} with content-encoding {encoding[:40]!r}, which the "
                    "relay cannot decode")
            self.decoded = encoding
            headers.pop("content-encoding", None)
            headers.pop("content-length", None)
        self.headers = headers

    async def _guard(self, step: Awaitable[T]) -> T:
        deadline = self._total_at
        if self._manual_idle and self._t.idle is not None:
            idle_at = asyncio.get_running_loop().time() + self._t.idle
            deadline = idle_at if deadline is None else min(deadline, idle_at)
        by_total = deadline is not None and deadline == self._total_at
        try:
            if deadline is None:
                return await step
            async with asyncio.timeout_at(deadline) as scope:
                return await step
        except UpstreamError:
            raise
        except BaseException as exc:  # noqa: BLE001
            expired = deadline is not None and scope.expired()
            if isinstance(exc, asyncio.CancelledError) and not expired:
                raise
            raise translate(exc, self._t, "body", by_total=by_total, expired=expired) from None

    async def readany(self) -> bytes:
        """The body bytes that have arrived (waiting for some); b"" at the end."""
        return await self._guard(self._resp.content.readany())

    async def read(self) -> bytes:
        """The whole body (decoded)."""
        return await self._guard(self._resp.read())

    def release(self) -> None:
        """Done: a fully read answer gives its connection back to the pool, else it closes."""
        self._resp.release()

    def close(self) -> None:
        """Drop the connection now (the body will not be read)."""
        self._resp.close()
