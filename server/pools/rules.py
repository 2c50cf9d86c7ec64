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

Rules are data (operators edit them through the admin API); the first match wins. A failure
no rule matches falls back safely (``fallback``): a 4xx is the client's (passed through, no
cooldown), a 5xx retries elsewhere with a brief cooldown, a transport failure cools the account.
Errors that are the account's rather than the request's (Anthropic's "credit balance is too
low", a disabled organisation, OpenAI's ``insufficient_quota``) have rules of their own ahead
of "4xx: pass", so they fail over and are never shown to users.

A cooldown read from upstream headers is capped at ``MAX_HEADER_COOLDOWN``; values that are
not finite non-negative numbers (``inf``, ``-5``, ``soon``) fall back to the rule's seconds.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

ACTIONS = ("pass", "retry", "cooldown", "cooldown_reset", "disable")
PHASES = ("any", "before", "after")
TRANSPORT_STATUSES = ("connect", "timeout")  # cooldowns a successful probe may end early
MAX_HEADER_COOLDOWN = 3600.0  # an upstream header never rests an account longer than this
MAX_RULE_SECONDS = 7 * 86400.0
RULE_FIELDS = frozenset({"status", "action", "seconds", "error_type", "message_pattern", "phase", "name"})


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
    # The account's own problems, whatever status they come with: never the user's to see.
    ErrorRule("429", "cooldown", 3600, error_type="insufficient_quota",
              name="account out of quota (OpenAI): rest an hour, fail over"),
    ErrorRule("4xx", "cooldown", 3600, message_pattern=r"credit balance is too low",
              name="account out of credit (Anthropic): rest an hour, fail over"),
    ErrorRule("4xx", "disable",
              message_pattern=r"organi[sz]ation (has been|is|was) (disabled|deactivated|suspended)",
              name="account's organisation disabled"),
    ErrorRule("429", "cooldown_reset", 60, name="rate limited: rest until the reset header"),
    ErrorRule("529", "cooldown", 60, name="overloaded"),
    ErrorRule("401", "disable", name="credentials rejected"),
    ErrorRule("403", "disable", name="permission denied"),
    ErrorRule("408", "cooldown", 30, name="upstream timeout"),
    ErrorRule("stream_error", "cooldown", 30, error_type="overloaded_error", name="overloaded mid-stream"),
    ErrorRule("stream_error", "cooldown", 30, error_type="api_error", name="server error mid-stream"),
    ErrorRule("stream_error", "cooldown", 30, error_type="server_error",
              name="server error mid-stream (Responses)"),
    ErrorRule("stream_error", "cooldown", 60, error_type="rate_limit_exceeded",
              name="rate limited mid-stream"),
    ErrorRule("stream_error", "retry", name="other error event: try elsewhere, leave the account"),
    ErrorRule("4xx", "pass", name="client errors go back to the client"),
    ErrorRule("5xx", "cooldown", 30, name="server error"),
    ErrorRule("connect", "cooldown", 30, name="connection failed"),
    ErrorRule("timeout", "cooldown", 30, name="timed out"),
    ErrorRule("config", "disable", name="account configuration unusable (URL, port, key, proxy)"),
)

FALLBACK_4XX = ErrorRule("4xx", "pass", name="unmatched 4xx: the client's, passed through")
FALLBACK_5XX = ErrorRule("5xx", "cooldown", 10, name="unmatched 5xx: retry elsewhere, rest briefly")
FALLBACK = ErrorRule("*", "cooldown", 30, name="unmatched transport failure")


def fallback(status: str) -> ErrorRule:
    """What a failure no rule matches does: fail safe, never a pool-wide outage from a
    client's own 4xx."""
    if status.isdigit() and status[0] == "4":
        return FALLBACK_4XX
    if status.isdigit() and status[0] in "5123":
        return FALLBACK_5XX
    return FALLBACK


def classify(rules: Iterable[ErrorRule], status: str, error_type: str = "", message: str = "",
             phase: str = "before") -> ErrorRule:
    """The first rule matching this failure, else the safe fallback."""
    for rule in rules:
        if rule.matches(status, error_type, message, phase):
            return rule
    return fallback(status)


def rule_from_dict(data: Mapping[str, Any]) -> ErrorRule:
    """Validate an operator's rule."""
    unknown = sorted(set(data) - RULE_FIELDS - {"_id"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field (known: {', '.join(sorted(RULE_FIELDS))})")
    status = str(data.get("status", "")).strip()
    if not (re.fullmatch(r"[1-5][0-9x]{2}", status)
            or status in ("connect", "timeout", "stream_error", "config")):
        raise ValueError("status: a code like 429, a class like 5xx, or connect/timeout/stream_error/config")
    action = data.get("action")
    if action not in ACTIONS:
        raise ValueError(f"action: one of {', '.join(ACTIONS)}")
    phase = data.get("phase", "any")
    if phase not in PHASES:
        raise ValueError(f"phase: one of {', '.join(PHASES)}")
    seconds = data.get("seconds", 30)
    if (not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds)
            or not 0 <= seconds <= MAX_RULE_SECONDS):
        raise ValueError(f"seconds: a number from 0 to {MAX_RULE_SECONDS:.0f}")
    for text_field in ("error_type", "message_pattern", "name"):
        if not isinstance(data.get(text_field, ""), str) or len(data.get(text_field, "")) > 300:
            raise ValueError(f"{text_field}: a string of at most 300 characters")
    if action == "pass" and status in ("connect", "timeout", "stream_error", "config"):
        raise ValueError(f"action: {status} has no answer to pass through; use retry, cooldown or disable")
    pattern = str(data.get("message_pattern", ""))
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"message_pattern: {exc}") from None
    return ErrorRule(status=status, action=action, seconds=float(seconds),
                     error_type=str(data.get("error_type", "")), message_pattern=pattern,
                     phase=phase, name=str(data.get("name", "")))


def reset_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the upstream says its limit resets, from the standard headers, capped at
    ``MAX_HEADER_COOLDOWN``; None when no header gives a usable value (the rule's seconds apply)."""
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("retry-after")
    if value:
        seconds = _retry_after(value.strip(), now)
        if seconds is not None:
            return min(seconds, MAX_HEADER_COOLDOWN)
    best: float | None = None
    for name, value in lower.items():
        wait: float | None = None
        if name.startswith("anthropic-ratelimit-") and name.endswith("-reset"):
            try:
                when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                continue
            if when.tzinfo is None:
                continue
            wait = when.timestamp() - now
        elif name.startswith("x-ratelimit-reset-"):
            wait = _duration(value)
        if wait is not None and math.isfinite(wait) and wait >= 0:
            best = wait if best is None else max(best, wait)
    return None if best is None else min(best, MAX_HEADER_COOLDOWN)


def _retry_after(value: str, now: float) -> float | None:
    """``retry-after`` as delay-seconds or an HTTP date; None for inf, NaN, negatives, junk."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
        return seconds if seconds >= 0 else None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _duration(text: str) -> float | None:
    """OpenAI-style durations: "1s", "6m0s", "250ms"."""
    if not re.fullmatch(r"\s*(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+\s*", text):
        return None
    total = 0.0
    for amount, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", text):
        total += float(amount) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total
