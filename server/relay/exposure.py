"""What of the upstream account may reach a user: response headers by allow-list, and upstream
error texts scrubbed of the account's identity (organisation and project ids, key prefixes, the
account's name).

Dropped on purpose: ``anthropic-organization-id`` / ``openai-organization`` / ``openai-project``
(they name the operator's account) and the upstream's rate-limit headers
(``anthropic-ratelimit-*``, ``x-ratelimit-*``): they describe the operator's account, not the
user's key, so a client that paced itself by them would be pacing by a pool member's budget
(and reveal its tier). The relay's own limits answer with their own 429 + ``retry-after``."""

from __future__ import annotations

import re
from typing import Any, Mapping

# Response headers worth passing back to the client; hop-by-hop and length headers never are.
RETURNED_HEADERS = frozenset({
    "request-id", "x-request-id", "openai-processing-ms", "retry-after", "x-should-retry",
})

_PATTERNS = (
    (re.compile(r"\borg-[A-Za-z0-9]{4,}"), "org-***"),
    (re.compile(r"\bproj_[A-Za-z0-9]{4,}"), "proj_***"),
    (re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_\-]{2,}\**"), "sk-***"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "***"),
)


def client_headers(upstream: Mapping[str, str], content_type: str) -> dict[str, str]:
    """The allow-listed upstream headers plus the content type (and no-buffering for streams)."""
    headers = {k.lower(): v for k, v in upstream.items() if k.lower() in RETURNED_HEADERS}
    headers["content-type"] = upstream.get("content-type") or upstream.get("Content-Type") or content_type
    if content_type == "text/event-stream":
        headers["cache-control"] = "no-cache"
        headers["x-accel-buffering"] = "no"
    return headers


def scrub_text(text: str, account: Mapping[str, Any]) -> str:
    """``text`` without the organisation/project ids, key prefixes and the account's name."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    name = str(account.get("name") or "")
    if len(name) >= 3:  # shorter names are ordinary words or numbers
        text = re.sub(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", "***", text)
    return text


def scrub_error(raw: bytes, account: Mapping[str, Any]) -> bytes:
    """An upstream error body or error event, scrubbed; the same bytes when there was nothing
    to scrub. The replacements hold no JSON-special characters, so JSON stays JSON."""
    text = raw.decode("utf-8", "replace")
    scrubbed = scrub_text(text, account)
    if scrubbed == text:
        return raw
    return scrubbed.encode()
