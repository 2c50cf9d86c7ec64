"""Which header or field names a conversation for stickiness, per client."""

from __future__ import annotations

from server.pools.sticky import session_key

BODY = {"model": "claude-opus-4-6", "messages": [{"role": "user", "content": "hi"}]}


def test_opencode_session_affinity_names_the_conversation():
    a = session_key("anthropic", {"x-session-affinity": "ses_1"}, BODY, "key_1")
    other_system = {**BODY, "system": "other"}
    assert a == session_key("anthropic", {"x-session-affinity": "ses_1"}, other_system, "key_1")
    assert a != session_key("anthropic", {"x-session-affinity": "ses_2"}, BODY, "key_1")
    assert a != session_key("anthropic", {"x-session-affinity": "ses_1"}, BODY, "key_2")


def test_claude_codes_session_header_wins_over_the_affinity_header():
    both = {"x-claude-code-session-id": "cc", "x-session-affinity": "oc"}
    claude_only = {"x-claude-code-session-id": "cc"}
    assert session_key("anthropic", both, BODY, "k") == session_key("anthropic", claude_only, BODY, "k")
