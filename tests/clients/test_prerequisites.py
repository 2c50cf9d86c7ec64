"""A missing prerequisite of the real-client suite skips on a developer's machine and fails in CI."""

from __future__ import annotations

import pytest

from tests.clients.conftest import unavailable


def test_missing_prerequisite_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        unavailable("needs root")


def test_missing_prerequisite_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="real-client suite: npm unreachable"):
        unavailable("npm unreachable")
