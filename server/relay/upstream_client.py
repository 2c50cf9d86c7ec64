"""All upstream HTTP in one place: one long-lived keep-alive pool per process.

The client is ``server.relay.http11``: Tornado's simple client does not keep connections alive,
its curl client cannot apply back-pressure to streaming callbacks, and aiohttp's general client
cost as much CPU per call as the rest of the relay (bench/upstream_clients.py has the numbers).
Timeouts are explicit: connect, first byte (response headers), idle between chunks; there is
no total timeout that would cut a long stream. Redirects are never followed. Only allow-listed
client headers are forwarded, and the client's credentials are replaced by the account's."""

from __future__ import annotations

import asyncio
import functools
from typing import Mapping

from server.relay.http11 import Http11Client, Origin, Response
from server.settings import Settings

FORWARDED_HEADERS = frozenset({
    "anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access",
    "content-type", "accept", "user-agent", "x-app", "x-claude-code-session-id",
    "x-stainless-retry-count", "x-stainless-timeout", "x-stainless-lang", "x-stainless-package-version",
    "x-stainless-os", "x-stainless-arch", "x-stainless-runtime", "x-stainless-runtime-version",
    "x-stainless-helper-method", "x-stainless-stream-helper", "x-stainless-read-timeout",
    "openai-beta", "session-id", "thread-id", "x-client-request-id", "originator",
    "x-codex-turn-metadata", "x-codex-beta-features", "x-codex-window-id", "version",
})

# Response headers worth passing back to the client; hop-by-hop and length headers never are.
RETURNED_HEADERS = frozenset({
    "request-id", "x-request-id", "anthropic-organization-id", "openai-processing-ms",
    "retry-after", "x-should-retry",
})


def forward_headers(client_headers: Mapping[str, str], protocol: str, api_key: str) -> dict[str, str]:
    """The allow-listed client headers plus the account's credentials."""
    out = {k: v for k, v in client_headers.items() if k.lower() in FORWARDED_HEADERS}
    if protocol == "anthropic":
        out["x-api-key"] = api_key
        out.setdefault("anthropic-version", "2023-06-01")
    else:
        out["authorization"] = f"Bearer {api_key}"
    out["content-type"] = "application/json"
    # The relay scans streamed events and passes bytes through: ask for them uncompressed.
    out["accept-encoding"] = "identity"
    return out


class UpstreamTimeout(Exception):
    """The upstream did not answer within the first-byte timeout."""


@functools.lru_cache(maxsize=4096)
def origin(url: str) -> Origin:
    """Parsed once per account and path."""
    return Origin(url)


class UpstreamClient:
    """The pooled client with the relay's timeouts; created after start-up, closed on shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = Http11Client(connect_timeout=settings.upstream_connect_timeout,
                                 idle_timeout=settings.upstream_idle_timeout)

    async def request(self, method: str, url: "str | Origin", headers: Mapping[str, str],
                      body: bytes | None = None) -> Response:
        """Send one request; returns once the response headers are in (or raises)."""
        target = url if isinstance(url, Origin) else origin(url)
        try:
            # asyncio.timeout, unlike wait_for, creates no extra task per request.
            async with asyncio.timeout(self.settings.upstream_first_byte_timeout):
                return await self.http.request(method, target, headers, body)
        except TimeoutError:
            raise UpstreamTimeout(f"no response headers within {self.settings.upstream_first_byte_timeout:.0f}s") from None

    async def close(self) -> None:
        await self.http.close()
