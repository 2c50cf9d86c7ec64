"""Fault names and the vendors' error envelopes.

Faults (an account's ``fault`` knob or the ``x-emulator-fault`` request header):

- ``"400" "401" "403" "429" "500" "503" "529"``: that HTTP status, with the protocol's error
  envelope (Anthropic ``{"type":"error","error":{type,message},"request_id"}``, OpenAI
  ``{"error":{message,type,param,code}}``). 429 adds ``retry-after`` and rate-limit reset headers.
- ``"502"``: an HTML gateway page, like a proxy in front of the vendor.
- ``"reset"``: the connection is closed (RST) before any response byte.
- ``"stall"``: headers (and for streams the first event) are sent, then nothing, until the
  client goes away.
- ``"eof"``: streams stop after about half the content deltas and the connection closes without
  the terminating event; non-streaming bodies are cut in half.
- With the ``cut_after`` knob (``x-emulator-cut-after``) an ``eof`` or ``stall`` stream is cut
  just after that many content deltas instead (0: after the first event, ``message_start`` /
  ``response.created``), for tests of what a cut stream is billed.
- ``"stream_error"`` / ``"stream_error_late"``: streams only; an in-stream error
  (Anthropic ``event: error`` overloaded_error, Responses ``response.failed``) before any
  content / after some deltas. Non-streaming requests ignore these (and do not use up
  ``fail_next``), so a client's non-streaming fallback succeeds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson

STATUS_FAULTS = ("400", "401", "403", "429", "500", "502", "503", "529")
STREAM_ONLY_FAULTS = frozenset({"stream_error", "stream_error_late"})
FAULTS: tuple[str, ...] = STATUS_FAULTS + ("reset", "stall", "eof", "stream_error", "stream_error_late")
# The account's own errors (credit, quota, disabled organisation): see ``oddities``.
FAULTS += ("credit_low", "insufficient_quota", "org_disabled", "400_org")

ANTHROPIC = "anthropic"
OPENAI = "openai"

# status -> (error type, default message), as the real Anthropic API sends them.
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization. "
                              "Please reduce the prompt length or the maximum tokens requested, "
                              "or try again later."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}

# status -> (type, code, default message), as the real OpenAI API sends them.
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("request_forbidden", "unsupported_country_region_territory",
          "Country, region, or territory not supported"),
    404: ("invalid_request_error", None, "Not found."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    529: ("server_error", "overloaded", "The server is overloaded, please try again later."),
}

GATEWAY_502_BODY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)

#: The in-stream error the real Anthropic API sends when it is overloaded mid-stream.
ANTHROPIC_STREAM_ERROR = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
#: The error object of a Responses ``response.failed`` event.
OPENAI_STREAM_ERROR = {"code": "server_error",
                       "message": "An error occurred while processing your request. You can retry "
                                  "your request, or contact us if the error persists."}


def anthropic_error_body(status: int, request_id: str, message: str | None = None,
                         etype: str | None = None) -> bytes:
    """An Anthropic error envelope for ``status``."""
    default_type, default_message = _ANTHROPIC_ERRORS.get(status, ("api_error", "Internal server error"))
    return orjson.dumps({"type": "error",
                         "error": {"type": etype or default_type, "message": message or default_message},
                         "request_id": request_id})


def openai_error_body(status: int, message: str | None = None, *, etype: str | None = None,
                      code: str | None = None, param: str | None = None) -> bytes:
    """An OpenAI error envelope for ``status`` (``code=""`` forces a null code)."""
    default_type, default_code, default_message = _OPENAI_ERRORS.get(
        status, ("server_error", None, "The server had an error while processing your request."))
    code = (code if code is not None else default_code) or None
    return orjson.dumps({"error": {"message": message or default_message, "type": etype or default_type,
                                   "param": param, "code": code}})


def rate_limit_headers(protocol: str, retry_after: int) -> dict[str, str]:
    """Headers a real 429 carries: ``retry-after`` plus the vendor's reset hints."""
    headers = {"retry-after": str(retry_after)}
    if protocol == ANTHROPIC:
        reset = (datetime.now(timezone.utc) + timedelta(seconds=retry_after)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
            headers[f"anthropic-ratelimit-{kind}-limit"] = "50" if kind == "requests" else "100000"
            headers[f"anthropic-ratelimit-{kind}-remaining"] = "0"
            headers[f"anthropic-ratelimit-{kind}-reset"] = reset
    else:
        headers.update({
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{retry_after}s",
            "x-ratelimit-limit-tokens": "100000",
            "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset-tokens": f"{retry_after}s",
        })
    return headers


def fault_status(fault: str) -> int | None:
    """The HTTP status of a status fault, else None."""
    return int(fault) if fault in STATUS_FAULTS else None
