"""Error rules: how an upstream failure is classified and what the pool does about it.

A rule matches on the upstream status (an exact code, "4xx"/"5xx", or the pseudo statuses
``connect`` and ``timeout``), optionally the error type and a message pattern, and the phase
(``before`` or ``after`` the stream's commit point, or ``any``). Its action is one of

- ``pass``: the client's own mistake; return the upstream's answer as it is, never retry;
- ``retry``: try another account, leave this one alone;
- ``cooldown``: try another account; this one rests ``seconds``;
- ``cooldown_reset``: as cooldown, until the upstream's ``retry-after`` /
  ``anthropic-ratelimit-*-reset`` / ``x-ratelimit-reset-*`` says (``seconds`` if it does not);
- ``disable``: try another account; this one is disabled until an operator re-enables it.

Rules are data (operators edit them through the admin API); the first match wins.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

ACTIONS = ("pass", "retry", "cooldown", "cooldown_reset", "disable")
PHASES = ("any", "before", "after")


@dataclass(frozen=True)
class ErrorRule:
    """One classification rule."""

    status: str  # "429", "5xx", "4xx", "connect", "timeout", "stream_error"
    action: str
    seconds: float = 30.0
    error_type: str = ""
    message_pattern: str = ""
    phase: str = "any"
    name: str = ""

    def matches(self, status: str, error_type: str, message: str, phase: str) -> bool:
        if self.phase != "any" and self.phase != phase:
            return False
        if self.status.endswith("xx"):
            if not (status.isdigit() and status[0] == self.status[0]):
                return False
        elif self.status != status:
            return False
        if self.error_type and self.error_type != error_type:
            return False
        if self.message_pattern and not re.search(self.message_pattern, message or "", re.I):
            return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_RULES: tuple[ErrorRule, ...] = (
    ErrorRule("429", "cooldown_reset", 60, name="rate limited: rest until the reset header"),
    ErrorRule("529", "cooldown", 60, name="overloaded"),
    ErrorRule("401", "disable", name="credentials rejected"),
    ErrorRule("403", "disable", name="permission denied"),
    ErrorRule("408", "cooldown", 30, name="upstream timeout"),
    ErrorRule("stream_error", "cooldown", 30, error_type="overloaded_error", name="overloaded mid-stream"),
    ErrorRule("stream_error", "cooldown", 30, error_type="api_error", name="server error mid-stream"),
    ErrorRule("stream_error", "cooldown", 30, error_type="server_error", name="server error mid-stream (Responses)"),
    ErrorRule("stream_error", "cooldown", 60, error_type="rate_limit_exceeded", name="rate limited mid-stream"),
    ErrorRule("stream_error", "retry", name="other error event: try elsewhere, leave the account"),
    ErrorRule("4xx", "pass", name="client errors go back to the client"),
    ErrorRule("5xx", "cooldown", 30, name="server error"),
    ErrorRule("connect", "cooldown", 30, name="connection failed"),
    ErrorRule("timeout", "cooldown", 30, name="timed out"),
    ErrorRule("config", "disable", name="account configuration unusable (URL, port, key, proxy)"),
)

FALLBACK = ErrorRule("*", "cooldown", 30, name="unclassified")


def classify(rules: Iterable[ErrorRule], status: str, error_type: str = "", message: str = "",
             phase: str = "before") -> ErrorRule:
    """The first rule matching this failure (a 30 s cooldown if none does)."""
    for rule in rules:
        if rule.matches(status, error_type, message, phase):
            return rule
    return FALLBACK


def rule_from_dict(data: Mapping[str, Any]) -> ErrorRule:
    """Validate an operator's rule."""
    status = str(data.get("status", "")).strip()
    if not (re.fullmatch(r"[1-5][0-9x]{2}", status) or status in ("connect", "timeout", "stream_error", "config")):
        raise ValueError("status: a code like 429, a class like 5xx, or connect/timeout/stream_error/config")
    action = data.get("action")
    if action not in ACTIONS:
        raise ValueError(f"action: one of {', '.join(ACTIONS)}")
    phase = data.get("phase", "any")
    if phase not in PHASES:
        raise ValueError(f"phase: one of {', '.join(PHASES)}")
    seconds = data.get("seconds", 30)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise ValueError("seconds: a non-negative number")
    pattern = str(data.get("message_pattern", ""))
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"message_pattern: {exc}") from None
    return ErrorRule(status=status, action=action, seconds=float(seconds),
                     error_type=str(data.get("error_type", "")), message_pattern=pattern,
                     phase=phase, name=str(data.get("name", "")))


def reset_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the upstream says its limit resets, from the standard headers."""
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    best: float | None = None
    for name, value in lower.items():
        if name.startswith("anthropic-ratelimit-") and name.endswith("-reset"):
            try:
                when = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
            wait = max(0.0, when - now)
            best = wait if best is None else max(best, wait)
        elif name.startswith("x-ratelimit-reset-"):
            seconds = _duration(value)
            if seconds is not None:
                best = seconds if best is None else max(best, seconds)
    return best


def _duration(text: str) -> float | None:
    """OpenAI-style durations: "1s", "6m0s", "250ms"."""
    total, found = 0.0, False
    for amount, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", text):
        found = True
        total += float(amount) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total if found else None
