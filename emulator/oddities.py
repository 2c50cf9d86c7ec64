"""Upstream behaviours that are valid but odd, and errors that are the account's own, so the
relay's policy can be tested against them (issue 13).

Stream formats (the account knob ``sse_format``):

- ``"data-only"``: no ``event:`` lines (valid SSE; some compatible endpoints send this);
- ``"cr"`` / ``"crlf"``: lines end with a bare CR / with CRLF;
- ``"data-only-cr"``: both;
- ``"comments"``: a ``: keep-alive`` comment line before every event.

Account faults (``fault`` knob or ``x-emulator-fault``), answered in the protocol's envelope:

- ``"credit_low"``: Anthropic's 400 "Your credit balance is too low …";
- ``"insufficient_quota"``: OpenAI's 429 ``insufficient_quota`` (no retry-after);
- ``"org_disabled"``: 400 "This organization has been disabled.";
- ``"400_org"``: a client-side 400 whose message names the organisation and the account (as
  vendors' messages sometimes do), for the relay's scrubbing.

``retry_after_raw`` (knob): the 429 fault sends this ``retry-after`` verbatim (``inf``,
``-5``, ``soon``) instead of ``retry_after``, without the reset headers.
Every Anthropic answer carries an ``anthropic-organization-id`` header, as the vendor's do.
Slow JSON answers need nothing new: ``latency_ms`` / ``ttft_ms`` / ``delta_interval_ms`` delay a
non-streaming body's head until the whole (paced) generation is done, as the vendors do."""

from __future__ import annotations

import uuid

from emulator.faults import ANTHROPIC

SSE_FORMATS = ("", "data-only", "cr", "crlf", "data-only-cr", "comments")
ACCOUNT_FAULTS = ("credit_low", "insufficient_quota", "org_disabled", "400_org")
ORG_ID = str(uuid.UUID(int=0x5EED_0000_4000_8000_0000_0000_0000_0013))

CREDIT_LOW = ("Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing "
              "to upgrade or purchase credits.")
INSUFFICIENT_QUOTA = ("You exceeded your current quota, please check your plan and billing details. For more "
                      "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.")
ORG_DISABLED = "This organization has been disabled."


def reformat(data: bytes, fmt: str | None) -> bytes:
    """One SSE frame (LF line ends, ``event:`` + ``data:``) in the account's ``sse_format``."""
    if not fmt:
        return data
    if fmt.startswith("data-only"):
        data = b"".join(line + b"\n" for line in data.split(b"\n")[:-1] if not line.startswith(b"event:"))
    if fmt == "comments":
        data = b": keep-alive\n" + data
    if fmt.endswith("cr"):
        data = data.replace(b"\n", b"\r")
    elif fmt == "crlf":
        data = data.replace(b"\n", b"\r\n")
    return data


def account_fault(fault: str, protocol: str, account_name: str) -> tuple[int, str, str | None, str]:
    """(status, error type, code, message) of an account fault."""
    if fault == "credit_low":
        return 400, "invalid_request_error", None, CREDIT_LOW
    if fault == "insufficient_quota":
        return 429, "insufficient_quota", "insufficient_quota", INSUFFICIENT_QUOTA
    if fault == "org_disabled":
        return 400, "invalid_request_error", None, ORG_DISABLED
    org = ORG_ID if protocol == ANTHROPIC else "org-EmuOrg0013abcdef"
    return 400, "invalid_request_error", None, (
        f"max_tokens is too large for organization {org} (account {account_name}).")


def organization_header(protocol: str) -> str:
    """The extra response header line naming the (emulated) organisation."""
    if protocol == ANTHROPIC:
        return f"Anthropic-Organization-Id: {ORG_ID}\r\n"
    return "Openai-Organization: org-emu-0013\r\n"
