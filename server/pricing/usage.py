"""Token usage in one shape for both protocols, billed by kind.

Anthropic reports ``input_tokens`` *excluding* cache reads and writes; the Responses API
reports ``input_tokens`` *including* ``cached_tokens``. ``Usage.input`` is always the
uncached input, so the same price table applies to both."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping


@dataclass(frozen=True)
class Usage:
    """Billable tokens of one request, by kind."""

    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    reasoning: int = 0  # informational: already included in ``output``
    # What the vendor bills beyond tokens (issue 12): filled by metering, priced by the rule.
    web_search_requests: int = 0  # server-side web search calls (Anthropic usage / Responses items)
    service_tier: str = ""  # the tier the upstream reports ("priority", "flex", "standard"...), "" if none
    speed: str = ""  # Anthropic fast mode ("fast") when the upstream reports it, else ""
    # "" when the upstream reported the final usage; else how it was estimated (a cut stream,
    # server/pricing/estimate.py): the row is marked ``estimated: true`` with this method.
    estimate: str = ""

    def as_dict(self) -> dict[str, int]:
        # Explicit: dataclasses.asdict deep-copies recursively and shows up in profiles.
        return {"input": self.input, "output": self.output, "cache_write_5m": self.cache_write_5m,
                "cache_write_1h": self.cache_write_1h, "cache_read": self.cache_read,
                "reasoning": self.reasoning}

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write_5m + self.cache_write_1h + self.cache_read

    def is_empty(self) -> bool:
        return self.total == 0

    @property
    def estimated(self) -> bool:
        return bool(self.estimate)

    def extras(self) -> dict[str, Any]:
        """What the vendor bills beyond tokens, for the usage row (tokens stay in ``as_dict``)."""
        return {"web_search_requests": self.web_search_requests, "service_tier": self.service_tier,
                "speed": self.speed}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _str(value: Any) -> str:
    return value[:40] if isinstance(value, str) else ""


def from_anthropic(usage: Mapping[str, Any] | None, output: int | None = None) -> Usage:
    """An Anthropic ``usage`` object (``message_start`` or a JSON message), with what it reports
    beyond tokens: ``server_tool_use.web_search_requests``, ``service_tier``, ``speed``."""
    usage = usage or {}
    server_tools = usage.get("server_tool_use")
    searches = _int(server_tools.get("web_search_requests")) if isinstance(server_tools, Mapping) else 0
    creation = usage.get("cache_creation") or {}
    w5 = _int(creation.get("ephemeral_5m_input_tokens"))
    w1h = _int(creation.get("ephemeral_1h_input_tokens"))
    total_write = _int(usage.get("cache_creation_input_tokens"))
    if w5 + w1h < total_write:  # no split given: the default TTL is five minutes
        w5 = total_write - w1h
    return Usage(input=_int(usage.get("input_tokens")),
                 output=_int(usage.get("output_tokens")) if output is None else output,
                 cache_write_5m=w5, cache_write_1h=w1h,
                 cache_read=_int(usage.get("cache_read_input_tokens")),
                 web_search_requests=searches, service_tier=_str(usage.get("service_tier")),
                 speed=_str(usage.get("speed")))


def from_responses(usage: Mapping[str, Any] | None) -> Usage:
    """An OpenAI Responses ``usage`` object (``response.completed`` or a JSON response)."""
    usage = usage or {}
    cached = _int((usage.get("input_tokens_details") or {}).get("cached_tokens"))
    total_in = _int(usage.get("input_tokens"))
    cached = min(cached, total_in)
    return Usage(input=total_in - cached, output=_int(usage.get("output_tokens")), cache_read=cached,
                 reasoning=_int((usage.get("output_tokens_details") or {}).get("reasoning_tokens")))


def responses_searches(output: Any) -> int:
    """Web searches a Responses ``output`` list made: its ``web_search_call`` items."""
    if not isinstance(output, list):
        return 0
    return sum(1 for item in output if isinstance(item, Mapping) and item.get("type") == "web_search_call")


def from_responses_object(response: Mapping[str, Any] | None) -> Usage:
    """A whole Responses ``response`` object: its ``usage``, the ``service_tier`` that served it
    and the web searches among its output items."""
    response = response or {}
    return replace(from_responses(response.get("usage")),
                   web_search_requests=responses_searches(response.get("output")),
                   service_tier=_str(response.get("service_tier")))
