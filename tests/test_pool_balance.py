"""The pool's pick, exactly and without HTTP: smooth weighted round-robin sequences, priority
tiers, stickiness and exclusion (the HTTP tests only check that the relay uses it)."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from server.pools.balance import choose, smooth_pick, top_tier
from server.pools.manager import PoolManager
from server.pools.state import AccountState


def account(name: str, weight: int = 1, priority: int = 0, **doc) -> AccountState:
    return AccountState({"_id": name, "name": name, "weight": weight, "priority": priority,
                         "groups": ["claude"], **doc})


def picks(accounts: list[AccountState], n: int, **kw) -> str:
    return " ".join(choose(accounts, **kw).id for _ in range(n))  # type: ignore[union-attr]


def test_smooth_pick_is_nginx_sequence_for_5_1_1():
    current = [0, 0, 0]
    names = []
    for _ in range(7):
        index, current = smooth_pick([5, 1, 1], current)
        names.append("abc"[index])
    assert " ".join(names) == "a a b a c a a"
    assert current == [0, 0, 0]  # a full cycle returns to the start


def test_smooth_pick_reports_the_counters_it_leaves():
    assert smooth_pick([5, 1, 1], [0, 0, 0]) == (0, [-2, 1, 1])
    assert smooth_pick([5, 1, 1], [-2, 1, 1]) == (0, [-4, 2, 2])
    assert smooth_pick([1, 1], [0, 0]) == (0, [-1, 1])  # a tie goes to the first


def test_smooth_pick_refuses_mismatched_input():
    with pytest.raises(ValueError):
        smooth_pick([], [])
    with pytest.raises(ValueError):
        smooth_pick([1, 2], [0])


def test_choose_keeps_counters_on_the_accounts():
    a, b, c = account("a", 5), account("b"), account("c")
    assert picks([a, b, c], 14) == "a a b a c a a a a b a c a a"


def test_equal_weights_alternate_and_split_exactly():
    a1, a2 = account("a1"), account("a2")
    assert picks([a1, a2], 6) == "a1 a2 a1 a2 a1 a2"
    counts = Counter(choose([a1, a2]).id for _ in range(1000))  # type: ignore[union-attr]
    assert counts == {"a1": 500, "a2": 500}


def test_weights_give_exact_shares_over_each_cycle():
    pool = [account("a", 3), account("b", 2), account("c", 1)]
    counts = Counter(choose(pool).id for _ in range(600))  # type: ignore[union-attr]
    assert counts == {"a": 300, "b": 200, "c": 100}


def test_only_the_highest_priority_tier_serves():
    high1, high2, low = account("h1", priority=10), account("h2", priority=10), account("low", 9, priority=1)
    assert [m.id for m in top_tier([low, high1, high2])] == ["h1", "h2"]
    assert picks([low, high1, high2], 4) == "h1 h2 h1 h2"
    assert low.current_weight == 0  # a lower tier's counters do not move
    assert picks([low], 2) == "low low"  # it serves when the tier above is gone


def test_sticky_account_wins_while_it_is_a_candidate():
    a, b = account("a", 5), account("b")
    assert picks([a, b], 3, sticky="b") == "b b b"
    assert (a.current_weight, b.current_weight) == (0, 0)  # stickiness does not advance the rotation
    assert picks([a], 2, sticky="b") == "a a"  # gone: the rotation decides
    assert choose([], sticky="a") is None


def test_manager_excludes_tried_unhealthy_and_full_accounts():
    manager = PoolManager(None, None)  # type: ignore[arg-type]  # eligibility reads no storage
    a, b, c = account("a", 5), account("b"), account("c")
    cooling = account("d", 100, state={"status": "cooling", "cooldown_until": time.time() + 60})
    full = account("e", 100, max_concurrency=1)
    full.inflight = 1
    other_model = account("f", 100, models=["claude-opus-*"])
    manager.accounts = {m.id: m for m in (a, b, c, cooling, full, other_model)}
    eligible = manager.eligible("claude", "claude-sonnet-4-5", exclude=["b"])
    assert [m.id for m in eligible] == ["a", "c"]
    assert picks(eligible, 6) == "a a a c a a"
    assert b.current_weight == 0
