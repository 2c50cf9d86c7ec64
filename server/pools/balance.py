"""Which account of a pool takes the next request: pure functions, so the algorithm is tested
exactly, without HTTP, and the pool manager only keeps the per-account counters.

Smooth weighted round-robin (nginx's): every pick adds each member's weight to its running
counter, the member with the largest counter wins (the first on a tie) and gives back the sum
of the weights. Weights 5/1/1 give ``a a b a c a a``: deterministic, spread evenly, exact
shares over every cycle of ``sum(weights)`` picks.
"""

from __future__ import annotations

from typing import Protocol, Sequence, TypeVar


class Member(Protocol):
    """What selection reads of a pool member (``AccountState`` has all of it)."""

    @property
    def id(self) -> str: ...

    @property
    def priority(self) -> int: ...

    @property
    def weight(self) -> int: ...

    current_weight: int


M = TypeVar("M", bound=Member)


def smooth_pick(weights: Sequence[int], current: Sequence[int]) -> tuple[int, list[int]]:
    """The index picked and the counters after the pick, from the weights and the counters
    before it (both in the members' order)."""
    if not weights or len(weights) != len(current):
        raise ValueError("weights and counters must be non-empty and of equal length")
    after = [c + w for c, w in zip(current, weights, strict=True)]
    best = 0
    for i in range(1, len(after)):
        if after[i] > after[best]:
            best = i
    after[best] -= sum(weights)
    return best, after


def top_tier(candidates: Sequence[M]) -> list[M]:
    """The candidates of the highest priority (the lower tiers serve only when it is empty)."""
    if not candidates:
        return []
    top = max(c.priority for c in candidates)
    return [c for c in candidates if c.priority == top]


def choose(candidates: Sequence[M], sticky: str | None = None) -> M | None:
    """The member for the next request: the sticky one while it is a candidate, else the smooth
    weighted round-robin pick of the top tier (its counters are updated in place)."""
    if not candidates:
        return None
    if sticky:
        for member in candidates:
            if member.id == sticky:
                return member
    tier = top_tier(candidates)
    index, after = smooth_pick([m.weight for m in tier], [m.current_weight for m in tier])
    for member, counter in zip(tier, after, strict=True):
        member.current_weight = counter
    return tier[index]
