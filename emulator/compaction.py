"""Responses API encrypted context: the account-bound check of every encrypted input item, and
remote compaction (Codex's "remote compaction v2").

Codex compacts with an ordinary ``POST /responses`` whose *last* input item is
``{"type": "compaction_trigger"}`` (the real API refuses it anywhere else: "The
'compaction_trigger' item must be the final input item."). The answer has exactly one output
item, ``{"type": "compaction", "id": "cmp_…", "encrypted_content": "gAAA…"}``, sent in a
``response.output_item.done`` event and in ``response.completed``; Codex counts the compaction
items of the ``output_item.done`` events and fails unless there is exactly one, then sends the
item back at the head of every later request. The blob is sealed for the minting account like
reasoning ``encrypted_content`` (see ``sealed.py``).
"""

from __future__ import annotations

from typing import Any

from emulator.base import ApiError, Frame, sse
from emulator.content import new_id
from emulator.sealed import abbreviated, opens, seal

#: Input item types whose ``encrypted_content`` only the minting account can read.
ENCRYPTED_TYPES = frozenset({"reasoning", "compaction", "compaction_summary"})


def check_encrypted(account_key: str, body: dict) -> None:
    """Raise the real 400 ``invalid_encrypted_content`` for the first blob this account did not mint."""
    items = body.get("input")
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or item.get("type") not in ENCRYPTED_TYPES:
            continue
        blob = item.get("encrypted_content")
        if blob is None and item.get("type") == "reasoning":
            continue  # a reasoning item without encrypted content (store: true style) is fine
        if not opens(account_key, blob):
            shown = abbreviated(blob) if isinstance(blob, str) else "null"
            raise ApiError(400, f"The encrypted content {shown} could not be verified. Reason: Encrypted "
                                "content could not be decrypted or parsed.", code="invalid_encrypted_content")


def wants_compaction(body: dict) -> bool:
    """True when the last input item is a ``compaction_trigger``; 400 if one is elsewhere."""
    items = body.get("input")
    if not isinstance(items, list):
        return False
    positions = [i for i, item in enumerate(items) if isinstance(item, dict)
                 and item.get("type") == "compaction_trigger"]
    if not positions:
        return False
    if positions != [len(items) - 1]:
        raise ApiError(400, "The 'compaction_trigger' item must be the final input item.", param="input",
                       code="invalid_value")
    return True


def compaction_item(account_key: str) -> dict[str, Any]:
    return {"id": new_id("cmp_"), "type": "compaction", "encrypted_content": seal(account_key, "compaction")}


def compaction_stream(pending: dict, item: dict, usage: dict) -> list[Frame]:
    """created, in_progress, output_item.added/done of the one item, completed."""
    frames: list[Frame] = []

    def add(kind: str, fields: dict, delta: bool = False) -> None:
        frames.append((delta, sse(kind, {"type": kind, **fields, "sequence_number": len(frames)})))

    add("response.created", {"response": pending})
    add("response.in_progress", {"response": pending})
    add("response.output_item.added", {"output_index": 0, "item": item})
    # The item is the content: a delta for pacing and the relay's commit point alike.
    frames.append((True, sse("response.output_item.done", {"type": "response.output_item.done",
                                                           "output_index": 0, "item": item,
                                                           "sequence_number": len(frames)})))
    add("response.completed", {"response": {**pending, "status": "completed", "output": [item],
                                            "usage": usage, "completed_at": pending["created_at"]}})
    return frames
