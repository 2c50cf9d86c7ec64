"""Usage as the upstream reports it; an estimate only when a stream is cut before it.

Anthropic streams: input and cache tokens from ``message_start``, cumulative ``output_tokens``
(and ``server_tool_use``) from each ``message_delta``. Responses streams: everything from
``response.completed`` (or ``response.incomplete``/``failed`` when they carry usage).
Non-streaming: the JSON body.

When the final usage never arrives (the client left and the drain timed out, or the upstream
died after content), :meth:`StreamMeter.billable` bills the best figures available instead of
nothing: the input ``message_start`` reported (Anthropic) or an estimate from the request body
(Responses), and the output from what was actually streamed (``server/pricing/estimate.py``).
Such usage carries ``estimate`` = the method, and its row is marked ``estimated: true``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from server.pricing import estimate
from server.pricing.usage import Usage, from_anthropic, from_responses_object

# Delta events whose text the client sees, and the field holding it.
_ANTHROPIC_DELTA_FIELDS = {"text_delta": "text", "input_json_delta": "partial_json",
                           "thinking_delta": "thinking"}
RESPONSES_DELTA_EVENTS = frozenset({
    b"response.output_text.delta", b"response.function_call_arguments.delta",
    b"response.custom_tool_call_input.delta", b"response.reasoning_summary_text.delta",
    b"response.reasoning_text.delta", b"response.refusal.delta",
})
# Events the meter needs decoded (besides the usage and error events of sse.PARSED_EVENTS).
METERED_EVENTS = RESPONSES_DELTA_EVENTS | {b"content_block_delta"}


class StreamMeter:
    """Accumulates usage from parsed stream events, and what was streamed for an estimate."""

    def __init__(self, protocol: str, body: Any = None) -> None:
        self.protocol = protocol
        self.body = body
        self.usage = Usage()
        self.finished = False  # saw the protocol's terminal event
        self.final = False  # saw the upstream's final usage (the rest is an estimate)
        self.started = False  # the upstream began its answer (message_start / response.created)
        self.streamed_bytes = 0  # UTF-8 bytes of text, tool arguments and thinking streamed
        self.searches_seen = 0  # web_search_call items finished in a cut Responses stream
        self.upstream_model: str | None = None
        self.response_id: str | None = None
        self._raw: dict[str, Any] = {}  # Anthropic's usage so far, merged as reported

    def observe(self, name: bytes, data: Any, raw: bytes = b"") -> None:
        if not isinstance(data, dict):
            if name == b"message_stop":
                self.finished = True
            elif name == b"response.output_item.done" and b'"web_search_call"' in raw:
                self.searches_seen += 1
            return
        if self.protocol == "anthropic":
            self._anthropic(name, data)
        else:
            self._responses(name, data)

    def _anthropic(self, name: bytes, data: dict[str, Any]) -> None:
        if name == b"content_block_delta":
            delta = data.get("delta")
            if not isinstance(delta, dict):
                return
            field = _ANTHROPIC_DELTA_FIELDS.get(delta.get("type", ""))
            text = delta.get(field) if field else None
            if isinstance(text, str):
                self.streamed_bytes += len(text.encode("utf-8"))
        elif name == b"message_start":
            message = data.get("message") or {}
            self.started = True
            self._raw = dict(message.get("usage") or {})
            self.usage = from_anthropic(self._raw)
            self.response_id = message.get("id")
        elif name == b"message_delta":
            usage = data.get("usage")
            if not isinstance(usage, dict):
                return
            # Cumulative: a later figure replaces an earlier one. A zero or null for a kind
            # message_start reported does not erase it (some upstreams send 0 there).
            self._raw.update({k: v for k, v in usage.items() if v or k == "output_tokens" and v == 0})
            self.usage = from_anthropic(self._raw)
            self.final = True
        elif name == b"message_stop":
            self.finished = True

    def _responses(self, name: bytes, data: dict[str, Any]) -> None:
        if name == b"response.output_item.done":  # parsed: a data-only stream named it by its type
            item = data.get("item")
            if isinstance(item, dict) and item.get("type") == "web_search_call":
                self.searches_seen += 1
            return
        if name in RESPONSES_DELTA_EVENTS:
            delta = data.get("delta")
            if isinstance(delta, str):
                self.streamed_bytes += len(delta.encode("utf-8"))
            return
        response = data.get("response")
        if not isinstance(response, dict):
            return
        self.started = True
        if response.get("usage"):
            self.usage = from_responses_object(response)
            self.final = True
        elif response.get("service_tier") and not self.final:
            self.usage = replace(self.usage, service_tier=str(response["service_tier"])[:40])
        if name in (b"response.completed", b"response.incomplete", b"response.failed"):
            self.finished = True
            self.response_id = response.get("id")

    def billable(self, cached_hint: int = 0) -> Usage:
        """The usage to bill: the upstream's final figures, or the best estimate if they never
        came (nothing at all if the upstream never began its answer). ``cached_hint``: input
        tokens of a Responses request probably read from the prompt cache (cache_hints.py)."""
        if self.final or not self.started:
            return self.usage
        streamed = estimate.tokens_for_bytes(self.streamed_bytes)
        if self.protocol == "anthropic":
            return replace(self.usage, output=max(self.usage.output, streamed),
                           estimate=estimate.METHOD_MESSAGE_START)
        total = estimate.responses_input(self.body)
        cached = min(max(cached_hint, 0), total)
        return replace(self.usage, input=total - cached, output=streamed, cache_read=cached, reasoning=0,
                       web_search_requests=self.searches_seen,
                       estimate=(estimate.METHOD_REQUEST_BODY_CACHE if cached
                                 else estimate.METHOD_REQUEST_BODY))


def usage_from_body(protocol: str, body: Any) -> Usage:
    """Usage of a non-streaming response body."""
    if not isinstance(body, dict):
        return Usage()
    if protocol == "anthropic":
        return from_anthropic(body.get("usage"))
    return from_responses_object(body)
