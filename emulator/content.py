"""What the emulated models "say": deterministic words, ids and tool-call arguments.

Text is a fixed vocabulary cycled word by word; one word is one token and one content delta
(the first word bare, later ones with a leading space, like real tokens). The first
``PRECOMPUTED`` deltas (and their JSON strings) are built once at import so the hot path only
slices tuples.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import Any

import orjson

TEXT_VOCAB = ("Hello", "from", "the", "Jiuliu", "emulator.", "This", "reply", "is",
              "deterministic", "so", "tests", "and", "benchmarks", "can", "count", "it.")
THINK_VOCAB = ("Let", "me", "think", "about", "this", "request", "step", "by", "step.")
SUMMARY_TEXT = "**Planning the reply**\n\nThinking about the request before answering."
PRECOMPUTED = 4096
# A tool call a real client may execute (Claude Code's Bash): harmless and deterministic.
SAFE_COMMAND = "echo jiuliu-emulator-tool-call"
_NAMED_TOOL = re.compile(r"use_tool:([A-Za-z0-9_.-]+)")


def _deltas(vocab: tuple[str, ...], n: int) -> tuple[str, ...]:
    words = itertools.islice(itertools.cycle(vocab), n)
    return tuple(w if i == 0 else " " + w for i, w in enumerate(words))


_TEXT = _deltas(TEXT_VOCAB, PRECOMPUTED)
_THINK = _deltas(THINK_VOCAB, PRECOMPUTED)
_TEXT_JSON = tuple(orjson.dumps(w) for w in _TEXT)
_THINK_JSON = tuple(orjson.dumps(w) for w in _THINK)


def text_deltas(n: int) -> tuple[str, ...]:
    """The first ``n`` word deltas of the reply text."""
    return _TEXT[:n] if n <= PRECOMPUTED else _deltas(TEXT_VOCAB, n)


def thinking_deltas(n: int) -> tuple[str, ...]:
    """The first ``n`` word deltas of the thinking / reasoning text."""
    return _THINK[:n] if n <= PRECOMPUTED else _deltas(THINK_VOCAB, n)


def text_deltas_json(n: int) -> tuple[bytes, ...]:
    """``text_deltas(n)`` as JSON strings (for SSE frames built by concatenation)."""
    return _TEXT_JSON[:n] if n <= PRECOMPUTED else tuple(orjson.dumps(w) for w in text_deltas(n))


def thinking_deltas_json(n: int) -> tuple[bytes, ...]:
    """``thinking_deltas(n)`` as JSON strings."""
    return _THINK_JSON[:n] if n <= PRECOMPUTED else tuple(orjson.dumps(w) for w in thinking_deltas(n))


def new_id(prefix: str) -> str:
    """A fresh vendor-style id (``msg_…``, ``resp_…``, ``toolu_…``)."""
    return prefix + os.urandom(12).hex()


def sample_arguments(schema: Any) -> dict:
    """A small input valid against a JSON schema: one value per required property."""
    if not isinstance(schema, dict):
        return {}
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    required = schema.get("required")
    if not isinstance(required, list):
        return {}
    return {name: SAFE_COMMAND if name == "command" and _is_string(props.get(name))
            else _sample_value(props.get(name)) for name in required if isinstance(name, str)}


def _is_string(schema: Any) -> bool:
    return (isinstance(schema, dict) and schema.get("type") == "string"
            and "enum" not in schema and "const" not in schema)


def _sample_value(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "emulated"
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("integer", "number"):
        minimum = schema.get("minimum")
        return minimum if isinstance(minimum, int) and not isinstance(minimum, bool) and minimum > 1 else 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return sample_arguments(schema)
    if kind == "null":
        return None
    return "emulated"


def mentions_use_tool(text: str | None) -> bool:
    """The trigger word that asks the emulator for a tool call without ``tool_choice``."""
    return text is not None and "use_tool" in text


def named_tool(text: str | None) -> str | None:
    """``use_tool:NAME`` in the prompt picks the tool by name (e.g. ``use_tool:Bash``)."""
    match = _NAMED_TOOL.search(text or "")
    return match.group(1) if match else None
