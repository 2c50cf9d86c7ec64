"""The Anthropic Messages API: ``POST /v1/messages`` (JSON or SSE) and ``/v1/messages/count_tokens``.

What is generated (see ``usage.py`` for the token rules):

- a ``thinking`` block (``thinking_delta``… then ``signature_delta``; with
  ``thinking.display == "omitted"`` only the signature) when ``thinking.type`` is enabled/adaptive;
  a thinking block sent back with a signature not minted for its exact text is refused with the
  real 400 ``messages.N.content.M: Invalid `signature` in `thinking` block`` (``sealed.py``);
- a ``text`` block of deterministic words (omitted when a tool is called and no words are left);
- a ``tool_use`` block for the first tool (or the one ``tool_choice`` names) with a small input
  valid against its schema, when ``tool_choice`` is ``any``/``tool`` or the last user text says
  "use_tool" (``use_tool:NAME`` picks that tool; a required string ``command`` is a harmless
  ``echo``, so a real client such as Claude Code may run it) — unless the output was cut by
  ``max_tokens``.

``stop_reason``: ``max_tokens`` when the requested length exceeds ``max_tokens``, else
``tool_use`` or ``end_turn``. Streams follow the real event order: ``message_start``,
``content_block_start``, ``ping`` (after the first block start), deltas, ``content_block_stop``…,
``message_delta`` (cumulative usage), ``message_stop``.
"""

from __future__ import annotations

from typing import Any

import orjson

from emulator.accounts import EmulatorAccount, Knobs
from emulator.base import ApiError, ApiHandler, Frame, sse
from emulator.content import (
    mentions_use_tool,
    named_tool,
    new_id,
    sample_arguments,
    text_deltas,
    text_deltas_json,
    thinking_deltas,
    thinking_deltas_json,
)
from emulator.faults import ANTHROPIC, ANTHROPIC_STREAM_ERROR
from emulator.sealed import minted_here, sign_thinking, thinking_valid
from emulator.usage import THINKING_TOKENS, anthropic_input, anthropic_usage, wants_thinking

_PING = sse("ping", {"type": "ping"})
_STOP = sse("message_stop", {"type": "message_stop"})
_STREAM_ERROR = sse("error", ANTHROPIC_STREAM_ERROR)
_BLOCK_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_JSON_CHUNK = 16  # characters of tool input per input_json_delta


def _require(body: dict, field: str, kind: type, message: str | None = None) -> Any:
    value = body.get(field)
    if value is None:
        raise ApiError(400, f"{field}: Field required")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ApiError(400, message or f"{field}: Input should be a valid {kind.__name__}")
    return value


def validate_shapes(body: dict) -> None:
    """The shapes the emulator relies on: messages, system, tools and thinking."""
    for i, message in enumerate(_require(body, "messages", list)):
        if not isinstance(message, dict) or not isinstance(message.get("content"), (str, list)):
            raise ApiError(400, f"messages.{i}: Input should be an object with string or list content")
        if isinstance(message["content"], list) and not all(isinstance(b, dict) for b in message["content"]):
            raise ApiError(400, f"messages.{i}.content: Input should be a list of content blocks")
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise ApiError(400, "system: Input should be a string or a list of text blocks")
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)):
        raise ApiError(400, "tools: Input should be a list of tool definitions")
    if body.get("thinking") is not None and not isinstance(body["thinking"], dict):
        raise ApiError(400, "thinking: Input should be an object")


def check_signatures(body: dict) -> None:
    """Every ``thinking`` block sent back must carry the signature minted for its exact text
    (see ``sealed.py``: checked, not account-bound); ``redacted_thinking`` passes as it is. As
    upstream: a changed text under a genuine signature in the *latest* assistant message is
    "cannot be modified"; any other bad block is "Invalid `signature`"."""
    messages = body.get("messages") or ()
    latest = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    for i, message in enumerate(messages):
        if message.get("role") != "assistant" or not isinstance(message.get("content"), list):
            continue
        for j, block in enumerate(message["content"]):
            signature = block.get("signature")
            if block.get("type") != "thinking" or thinking_valid(block.get("thinking"), signature):
                continue
            if i == latest and minted_here(signature):
                raise ApiError(400, f"messages.{i}.content.{j}: `thinking` or `redacted_thinking` blocks "
                                    "in the latest assistant message cannot be modified. These blocks must "
                                    "remain as they were in the original response.")
            raise ApiError(400, f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")


def _last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(b.get("text", "") for b in content or () if isinstance(b, dict)
                            and b.get("type") == "text" and isinstance(b.get("text"), str))
    return ""


def pick_tool(body: dict) -> dict | None:
    """The tool the emulated model calls, or None (see the module docstring)."""
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("name"), str)]
    if not tools:
        return None
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        choice = {}
    kind = choice.get("type")
    if kind == "none":
        return None
    if kind == "tool":
        return next((t for t in tools if t["name"] == choice.get("name")), tools[0])
    text = _last_user_text(body)
    if kind == "any" or mentions_use_tool(text):
        wanted = named_tool(text)
        return next((t for t in tools if t["name"] == wanted or (wanted is None and "input_schema" in t)),
                    next((t for t in tools if "input_schema" in t), tools[0]))
    return None


def _plan(body: dict, output: int, requested: int) -> tuple[list[tuple[str, Any]], str]:
    """Content blocks as (kind, payload) and the stop reason."""
    truncated = requested > output
    blocks: list[tuple[str, Any]] = []
    think = 0
    if wants_thinking(body):
        think = min(THINKING_TOKENS, output)
        omitted = body["thinking"].get("display") == "omitted"
        blocks.append(("thinking", (think, omitted)))
    tool = None if truncated else pick_tool(body)
    words = output - think
    if words > 0 or tool is None:
        blocks.append(("text", words))
    if tool is not None:
        blocks.append(("tool_use", tool))
    return blocks, "max_tokens" if truncated else "tool_use" if tool is not None else "end_turn"


def _tool_block(tool: dict) -> dict:
    return {"type": "tool_use", "id": new_id("toolu_"), "name": tool["name"],
            "input": sample_arguments(tool.get("input_schema"))}


def build_message(body: dict, usage: dict, requested: int) -> tuple[dict, int]:
    """The non-streaming message object and its number of content deltas (for pacing)."""
    blocks, stop_reason = _plan(body, usage["output_tokens"], requested)
    content: list[dict] = []
    n = 0
    for kind, payload in blocks:
        if kind == "thinking":
            count, omitted = payload
            text = "" if omitted else "".join(thinking_deltas(count))
            content.append({"type": "thinking", "thinking": text, "signature": sign_thinking(text)})
            n += (0 if omitted else count) + 1
        elif kind == "text":
            content.append({"type": "text", "text": "".join(text_deltas(payload))})
            n += payload
        else:
            block = _tool_block(payload)
            content.append(block)
            n += -(-len(orjson.dumps(block["input"])) // _JSON_CHUNK)
    message = {"id": new_id("msg_"), "type": "message", "role": "assistant", "model": body["model"],
               "content": content, "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}
    return message, n


def _word_frames(index: int, kind: bytes, field: bytes, words: tuple[bytes, ...]) -> list[Frame]:
    """Content deltas of words given as JSON strings."""
    head = _BLOCK_DELTA + str(index).encode() + b',"delta":{"type":"' + kind + b'","' + field + b'":'
    return [(True, head + w + b"}}\n\n") for w in words]


def build_stream(body: dict, usage: dict, requested: int) -> list[Frame]:
    """Every SSE frame of the streamed message, in order."""
    blocks, stop_reason = _plan(body, usage["output_tokens"], requested)
    start_usage = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    if "server_tool_use" in usage:  # searches happen while the answer is generated
        start_usage["server_tool_use"] = {"web_search_requests": 0}
    frames: list[Frame] = [(False, sse("message_start", {"type": "message_start", "message": {
        "id": new_id("msg_"), "type": "message", "role": "assistant", "model": body["model"], "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": start_usage}}))]
    for index, (kind, payload) in enumerate(blocks):
        if kind == "thinking":
            start: dict = {"type": "thinking", "thinking": "", "signature": ""}
        elif kind == "text":
            start = {"type": "text", "text": ""}
        else:
            block = _tool_block(payload)
            start = {**block, "input": {}}
        frames.append((False, sse("content_block_start",
                                  {"type": "content_block_start", "index": index, "content_block": start})))
        if index == 0:
            frames.append((False, _PING))
        if kind == "thinking":
            count, omitted = payload
            if not omitted:
                frames += _word_frames(index, b"thinking_delta", b"thinking", thinking_deltas_json(count))
            frames.append((True, sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                     "delta": {"type": "signature_delta", "signature": sign_thinking(
                                         "" if omitted else "".join(thinking_deltas(count)))}})))
        elif kind == "text":
            frames += _word_frames(index, b"text_delta", b"text", text_deltas_json(payload))
        else:
            raw = orjson.dumps(block["input"]).decode()
            for i in range(0, len(raw), _JSON_CHUNK):
                delta = {"type": "input_json_delta", "partial_json": raw[i:i + _JSON_CHUNK]}
                frames.append((True, sse("content_block_delta",
                                         {"type": "content_block_delta", "index": index, "delta": delta})))
        frames.append((False, sse("content_block_stop", {"type": "content_block_stop", "index": index})))
    final_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                         "cache_read_input_tokens", "output_tokens", "server_tool_use")
                   if k in usage}
    frames.append((False, sse("message_delta", {"type": "message_delta",
                                                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                                "usage": final_usage})))
    frames.append((False, _STOP))
    return frames


def _error_frame(_sent: int) -> bytes:
    return _STREAM_ERROR


def with_billed_extras(usage: dict, knobs: Knobs) -> dict:
    """The usage with what the knobs say the vendor also bills: the tier that served the
    request, web searches (``server_tool_use``) and fast mode (``speed``)."""
    usage["service_tier"] = knobs.service_tier or "standard"
    if knobs.web_searches:
        usage["server_tool_use"] = {"web_search_requests": knobs.web_searches}
    if knobs.speed:
        usage["speed"] = knobs.speed
    return usage


class MessagesHandler(ApiHandler):
    """``POST /v1/messages``."""

    protocol = ANTHROPIC

    def validate(self, body: dict) -> None:
        _require(body, "model", str)
        max_tokens = _require(body, "max_tokens", int)
        if max_tokens < 1:
            raise ApiError(400, "max_tokens: Input should be greater than or equal to 1")
        validate_shapes(body)
        check_signatures(body)

    async def respond(self, account: EmulatorAccount, body: dict, knobs: Knobs, stream: bool,
                      fault: str | None) -> None:
        cache = self.state.anthropic_cache(account.name)
        usage = with_billed_extras(anthropic_usage(body, cache, output_tokens=knobs.output_tokens), knobs)
        if stream:
            await self.play(build_stream(body, usage, knobs.output_tokens), knobs, fault, _error_frame)
            return
        message, n = build_message(body, usage, knobs.output_tokens)
        delay = knobs.ttft + knobs.interval * max(0, n - 1)
        await self.finish_body(orjson.dumps(message), fault, delay)


class CountTokensHandler(ApiHandler):
    """``POST /v1/messages/count_tokens``: the same total input a message would report."""

    protocol = ANTHROPIC
    streams = False

    def validate(self, body: dict) -> None:
        _require(body, "model", str)
        validate_shapes(body)

    async def respond(self, account: EmulatorAccount, body: dict, knobs: Knobs, stream: bool,
                      fault: str | None) -> None:
        total, _ = anthropic_input(body)
        await self.finish_body(orjson.dumps({"input_tokens": total}), fault)


default_handlers = [
    (r"/v1/messages", MessagesHandler),
    (r"/v1/messages/count_tokens", CountTokensHandler),
]
