"""Helpers for the emulator's tests: the test accounts' keys, request headers, an SSE parser."""

from __future__ import annotations

import orjson

KEY_A, KEY_B = "emu-test-a", "emu-test-b"


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """``event: NAME / data: JSON`` blocks as (name, data) pairs."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = orjson.loads(line[6:])
        assert name is not None and data is not None, block
        events.append((name, data))
    return events


def anthropic_headers(key: str = KEY_A, **extra: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": "2023-06-01", **extra}


def openai_headers(key: str = KEY_A, **extra: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", **extra}
