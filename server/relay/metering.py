"""Usage as the upstream reports it, never a local estimate.

Anthropic streams: input and cache tokens from ``message_start``, cumulative ``output_tokens``
from each ``message_delta``. Responses streams: everything from ``response.completed`` (or
``response.incomplete``/``failed`` when they carry usage). Non-streaming: the JSON body."""

from __future__ import annotations

from typing import Any

from server.billing.usage import Usage, from_anthropic, from_responses


class StreamMeter:
    """Accumulates usage from parsed stream events."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.usage = Usage()
        self.finished = False  # saw the protocol's terminal event
        self.upstream_model: str | None = None
        self.response_id: str | None = None

    def observe(self, name: bytes, data: Any) -> None:
        if not isinstance(data, dict):
            if name in (b"message_stop",):
                self.finished = True
            return
        if self.protocol == "anthropic":
            self._anthropic(name, data)
        else:
            self._responses(name, data)

    def _anthropic(self, name: bytes, data: dict[str, Any]) -> None:
        if name == b"message_start":
            message = data.get("message") or {}
            self.usage = from_anthropic(message.get("usage"))
            self.response_id = message.get("id")
        elif name == b"message_delta":
            usage = data.get("usage") or {}
            output = usage.get("output_tokens")
            merged = from_anthropic({**_anthropic_raw(self.usage), **{k: v for k, v in usage.items() if v}})
            self.usage = Usage(input=merged.input, output=output if isinstance(output, int) else self.usage.output,
                               cache_write_5m=merged.cache_write_5m, cache_write_1h=merged.cache_write_1h,
                               cache_read=merged.cache_read)

    def _responses(self, name: bytes, data: dict[str, Any]) -> None:
        response = data.get("response") or {}
        if response.get("usage"):
            self.usage = from_responses(response["usage"])
        if name in (b"response.completed", b"response.incomplete"):
            self.finished = True
            self.response_id = response.get("id")

    def mark_stop(self) -> None:
        self.finished = True


def _anthropic_raw(usage: Usage) -> dict[str, Any]:
    return {"input_tokens": usage.input, "output_tokens": usage.output,
            "cache_read_input_tokens": usage.cache_read,
            "cache_creation_input_tokens": usage.cache_write_5m + usage.cache_write_1h,
            "cache_creation": {"ephemeral_5m_input_tokens": usage.cache_write_5m,
                               "ephemeral_1h_input_tokens": usage.cache_write_1h}}


def usage_from_body(protocol: str, body: Any) -> Usage:
    """Usage of a non-streaming response body."""
    if not isinstance(body, dict):
        return Usage()
    if protocol == "anthropic":
        return from_anthropic(body.get("usage"))
    return from_responses(body.get("usage"))
