"""Offline token estimates for streams cut before the upstream's final usage (issue 12).

The rule: ``ceil(UTF-8 bytes / 4)``. No tokenizer is exact here: Anthropic publishes none for
current Claude models, and OpenAI's ``tiktoken`` downloads its vocabulary at run time (its
wheel ships none). Four UTF-8 bytes per token is close to real BPE tokenizers for English
prose, code and JSON (3.5–4.5 bytes per token) and for Chinese (a CJK character is 3 bytes and
about one token), and it is exactly how the upstream emulator counts input, so a test can
compute an estimated bill by hand. README: "Cut streams".

- **Input** (Responses only: ``response.created`` carries no usage; Anthropic's
  ``message_start`` reports it): the request body's segments, each counted on its own, the
  way the emulator's ``responses_input_tokens`` counts them; up to the input the upstream last
  reported for the same ``prompt_cache_key`` counts as a cache read (a Codex turn's prompt is
  mostly the previous turn's).
- **Output**: the text, tool-call arguments and thinking / reasoning-summary text actually
  streamed, counted together. Reasoning tokens that were never streamed are not estimated
  (nothing observable bounds them): an estimate bills only what the client could have seen.
"""

from __future__ import annotations

from typing import Any

import orjson

BYTES_PER_TOKEN = 4
# Methods recorded on an estimated usage row (``estimate_method``).
METHOD_MESSAGE_START = "message_start+streamed"  # Anthropic: reported input, streamed output
METHOD_REQUEST_BODY = "request_body+streamed"  # Responses: input from the body, streamed output
# The same, with part of the input counted as a cache read: the upstream's last reported input
# for the request's prompt_cache_key on that account (server/relay/cache_hints.py).
METHOD_REQUEST_BODY_CACHE = "request_body+cache_hint+streamed"


def tokens_for_bytes(n: int) -> int:
    """Tokens of ``n`` UTF-8 bytes: a quarter, rounded up."""
    return (n + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN if n > 0 else 0


def tokens_of(text: str) -> int:
    return tokens_for_bytes(len(text.encode("utf-8")))


def _json_tokens(obj: Any) -> int:
    return tokens_for_bytes(len(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)))


def responses_input(body: Any) -> int:
    """Estimated input tokens of a Responses request body (instructions, tools, input items)."""
    if not isinstance(body, dict):
        return 0
    total = 0
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        total += tokens_of(instructions)
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        total += _json_tokens(tool)
    items = body.get("input")
    if isinstance(items, str):
        return total + tokens_of(items)
    for item in items if isinstance(items, list) else ():
        total += _item_tokens(item)
    return total


def _item_tokens(item: Any) -> int:
    if not isinstance(item, dict):
        return _json_tokens(item)
    content = item.get("content")
    if isinstance(content, str):
        return tokens_of(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            text = part.get("text") if isinstance(part, dict) else None
            total += tokens_of(text) if isinstance(text, str) else _json_tokens(part)
        return total
    if item.get("type") == "function_call_output":
        output = item.get("output")
        return tokens_of(output) if isinstance(output, str) else _json_tokens(output)
    return _json_tokens(item)
