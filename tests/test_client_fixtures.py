"""The replay tests need the captured client requests; their absence is a failure, not a skip."""

from __future__ import annotations

from tests.client_fixtures import CAPTURES, FIXTURES


def test_captured_client_requests_are_present():
    names = {p.name for p in CAPTURES}
    assert len(names) >= 13, f"expected the captured client requests in {FIXTURES} (set JIULIU_CLIENT_FIXTURES)"
    assert "claude-code-2.1.332-turn-bearer.json" in names and "codex-0.169.0-turn.json" in names
