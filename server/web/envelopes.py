"""Error envelopes, one per API family, carrying the seed's messages and types.

- dashboard (``/api``): ``{"error": {"message", "type"[, "field"]}}`` as in the seed's 错误处理;
- anthropic (``/v1/messages``…): ``{"type": "error", "error": {"type", "message"}}``;
- openai (``/v1/responses``…): ``{"error": {"message", "type", "code", "param"}}``.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from server.errors import RelayError
from server.i18n import DEFAULT_LANG

Family = Literal["dashboard", "anthropic", "openai"]

# Tornado HTTPError statuses -> the error type each family expects.
STATUS_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 405: "method_not_allowed", 413: "request_too_large",
    429: "rate_limit_exceeded", 500: "api_error", 502: "api_error", 503: "overloaded_error",
}


def error_body(family: Family, err: RelayError, lang: str = DEFAULT_LANG) -> dict[str, Any]:
    """The JSON body for ``err`` in ``family``'s envelope. Only the dashboard's speaks ``lang``:
    the relay's keep the API document's (Chinese) messages whatever the caller accepts."""
    if family == "anthropic":
        return {"type": "error", "error": {"type": err.type, "message": err.message}}
    if family == "openai":
        return {"error": {"message": err.message, "type": err.type, "code": err.type,
                          "param": err.field}}
    inner: dict[str, Any] = {"message": err.localized(lang), "type": err.type}
    if err.field:
        inner["field"] = err.field
    return {"error": inner}


def sse_error_event(family: Family, err: RelayError) -> bytes:
    """An in-stream error event that ends a committed stream in the protocol's own words."""
    if family == "openai":
        payload: dict[str, Any] = {"type": "error", "code": err.type, "message": err.message, "param": None,
                   "sequence_number": 0}
        return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"
    payload = {"type": "error", "error": {"type": err.type, "message": err.message}}
    return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"
