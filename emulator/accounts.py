"""Emulated upstream accounts and their knobs.

An account is an API key the emulator accepts, plus the knobs that shape its answers
(latency, pacing, length, faults). Accounts are protocol-agnostic: any key may call the
Anthropic Messages API and the OpenAI Responses API. Knobs change at runtime through the
control API (``PATCH /_emulator/accounts/{key}``) or per request through ``x-emulator-*``
headers (see :func:`request_knobs`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from emulator.faults import FAULTS
from emulator.oddities import SSE_FORMATS

#: Knob fields a PATCH may set, with the type each must have.
KNOB_TYPES: dict[str, tuple[type, ...]] = {
    "latency_ms": (int, float),
    "ttft_ms": (int, float),
    "delta_interval_ms": (int, float),
    "output_tokens": (int,),
    "fault": (str, type(None)),
    "fail_next": (int,),
    "retry_after": (int,),
    # What the answer reports beyond tokens (issue 12): the tier that served it ("" = the
    # protocol's default: Anthropic "standard", Responses "default"), web searches made
    # (Anthropic usage.server_tool_use; Responses web_search_call items) and Anthropic's speed.
    "service_tier": (str,),
    "web_searches": (int,),
    "speed": (str,),
    # Where an "eof" or "stall" cuts a stream: after this many content deltas (0: right after
    # the first event, message_start / response.created); None: eof after half, stall after 0.
    "cut_after": (int, type(None)),
    "wire": (str,),
    "retry_after_raw": (str, type(None)),  # sent verbatim by the 429 fault (e.g. "inf"); see oddities
    "sse_format": (str, type(None)),  # see oddities.SSE_FORMATS
}

#: Per-request override headers and the knob each one replaces.
OVERRIDE_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-emulator-latency-ms", "latency_ms"),
    ("x-emulator-ttft-ms", "ttft_ms"),
    ("x-emulator-delta-interval-ms", "delta_interval_ms"),
    ("x-emulator-output-tokens", "output_tokens"),
    ("x-emulator-web-searches", "web_searches"),
    ("x-emulator-cut-after", "cut_after"),
)
#: Per-request override headers of text knobs.
TEXT_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-emulator-service-tier", "service_tier"),
    ("x-emulator-speed", "speed"),
)
INT_KNOBS = frozenset({"output_tokens", "web_searches", "cut_after"})


class KnobError(ValueError):
    """A knob value (from the control API or a header) is invalid."""


@dataclass
class EmulatorAccount:
    """One API key the emulator accepts, with the knobs that shape its answers."""

    api_key: str
    name: str = ""
    latency_ms: float = 0  # delay before response headers
    ttft_ms: float = 0  # delay before the first content delta
    delta_interval_ms: float = 0  # delay between content deltas
    output_tokens: int = 12  # generated length, capped by max_tokens / max_output_tokens
    fault: str | None = None
    fail_next: int = 0  # >0: fault applies to the next N requests only, then clears
    retry_after: int = 2  # seconds, for the 429 fault
    service_tier: str = ""  # "" = the protocol's default tier
    web_searches: int = 0
    speed: str = ""  # Anthropic: "fast" reports usage.speed = "fast"
    cut_after: int | None = None  # content deltas before an eof/stall cut
    wire: str = ""  # wire quirks, comma list: gzip, early-hints, folded-headers, bare-lf (emulator.wirestyle)
    retry_after_raw: str | None = None
    sse_format: str | None = None

    def __post_init__(self) -> None:
        if not self.api_key:
            raise KnobError("api_key must not be empty")
        if not self.name:
            self.name = self.api_key
        validate_knobs(self.knobs())

    def knobs(self) -> dict[str, Any]:
        """The current knob values (everything but the key and the name)."""
        return {k: getattr(self, k) for k in KNOB_TYPES}

    def public(self) -> dict[str, Any]:
        """A JSON-ready view for the control API."""
        return dataclasses.asdict(self)


@dataclass(slots=True)
class Knobs:
    """The knobs in force for one request: the account's, overridden by headers."""

    latency: float  # seconds
    ttft: float  # seconds
    interval: float  # seconds
    output_tokens: int
    fault: str | None
    retry_after: int
    account_fault: bool  # the fault is the account's (a use counts against fail_next)
    service_tier: str = ""
    web_searches: int = 0
    speed: str = ""
    cut_after: int | None = None
    retry_after_raw: str | None = None
    sse_format: str | None = None


def _of_type(value: Any, types: tuple[type, ...]) -> bool:
    """``isinstance`` for a knob, where a bool is never a number."""
    return not isinstance(value, bool) and isinstance(value, types)


def validate_knobs(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check knob names, types and ranges; return them normalised (fault "" → None)."""
    out: dict[str, Any] = {}
    for key, given in values.items():
        value: Any = given
        types = KNOB_TYPES.get(key)
        if types is None:
            raise KnobError(f"unknown knob {key!r}; known: {', '.join(KNOB_TYPES)}")
        if not _of_type(value, types):
            raise KnobError(f"knob {key!r} has the wrong type")
        if key == "wire":
            from emulator.wirestyle import parse_wire
            parse_wire(value)
        elif key == "fault":
            value = value or None
            if value is not None and value not in FAULTS:
                raise KnobError(f"unknown fault {value!r}; known: {', '.join(FAULTS)}")
        elif key == "sse_format":
            value = value or None
            if value is not None and value not in SSE_FORMATS:
                raise KnobError(f"unknown sse_format {value!r}; known: {', '.join(SSE_FORMATS[1:])}")
        elif key == "retry_after_raw":
            value = value or None
        elif isinstance(value, str):
            if len(value) > 40:
                raise KnobError(f"knob {key!r} is too long")
        elif value is None:
            pass
        elif not (0 <= value < math.inf):
            raise KnobError(f"knob {key!r} must be a finite number >= 0")
        out[key] = value
    return out


def request_knobs(account: EmulatorAccount, headers: Mapping[str, str]) -> Knobs:
    """Knobs for one request. ``x-emulator-fault: none`` (or empty) disables the account's
    fault for this request; an overriding header never counts against ``fail_next``."""
    values: dict[str, Any] = {
        "latency_ms": account.latency_ms,
        "ttft_ms": account.ttft_ms,
        "delta_interval_ms": account.delta_interval_ms,
        "output_tokens": account.output_tokens,
        "web_searches": account.web_searches,
        "cut_after": account.cut_after,
        "service_tier": account.service_tier,
        "speed": account.speed,
    }
    for header, knob in OVERRIDE_HEADERS:
        raw = headers.get(header)
        if raw is not None:
            values[knob] = _parse_number(header, raw, integer=knob in INT_KNOBS)
    for header, knob in TEXT_HEADERS:
        raw = headers.get(header)
        if raw is not None:
            values[knob] = raw.strip()[:40]
    override = headers.get("x-emulator-fault")
    if override is not None:
        fault = None if override in ("", "none") else override
        if fault is not None and fault not in FAULTS:
            raise KnobError(f"unknown x-emulator-fault {override!r}; known: {', '.join(FAULTS)}")
        account_fault = False
    else:
        fault, account_fault = account.fault, account.fault is not None
    return Knobs(
        latency=values["latency_ms"] / 1000.0,
        ttft=values["ttft_ms"] / 1000.0,
        interval=values["delta_interval_ms"] / 1000.0,
        output_tokens=values["output_tokens"],
        fault=fault,
        retry_after=account.retry_after,
        account_fault=account_fault,
        service_tier=values["service_tier"],
        web_searches=values["web_searches"],
        speed=values["speed"],
        cut_after=values["cut_after"],
        retry_after_raw=account.retry_after_raw,
        sse_format=account.sse_format,
    )


def consume_fault(account: EmulatorAccount) -> None:
    """Count one use of the account's fault; with ``fail_next`` reaching 0 it clears."""
    if account.fail_next > 0:
        account.fail_next -= 1
        if account.fail_next == 0:
            account.fault = None


def _parse_number(header: str, raw: str, *, integer: bool) -> float:
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise KnobError(f"header {header} must be a number") from None
    if not (0 <= value < math.inf):
        raise KnobError(f"header {header} must be a finite number >= 0")
    return value


def default_accounts(n_anthropic: int = 2, n_openai: int = 2) -> list[EmulatorAccount]:
    """Accounts for the CLI and the demo: ``emu-anthropic-1..N``, ``emu-openai-1..M``."""
    accounts = [EmulatorAccount(api_key=f"emu-anthropic-{i}") for i in range(1, n_anthropic + 1)]
    accounts += [EmulatorAccount(api_key=f"emu-openai-{i}") for i in range(1, n_openai + 1)]
    return accounts
