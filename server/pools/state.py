"""Per-process view of one upstream account: its config, shared health, and live numbers
(in flight, smooth-weighted-round-robin weight, recent outcomes and latencies)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from server.clock import Clock, WallClock


@dataclass
class Outcome:
    ts: float
    ok: bool
    latency_ms: float
    ttft_ms: float | None
    error_class: str | None


@dataclass
class AccountState:
    """One account as the selector sees it."""

    doc: dict[str, Any]
    current_weight: int = 0
    inflight: int = 0
    outcomes: deque = field(default_factory=lambda: deque(maxlen=2000))
    last_error: str = ""
    # Per-endpoint rests in this process (``count_tokens`` is limited apart from messages).
    scope_until: dict[str, float] = field(default_factory=dict)
    clock: WallClock = field(default_factory=Clock, repr=False, compare=False)  # the pool's clock

    @property
    def id(self) -> str:
        return self.doc["_id"]

    @property
    def name(self) -> str:
        return self.doc["name"]

    @property
    def weight(self) -> int:
        return max(1, int(self.doc.get("weight") or 1))

    @property
    def priority(self) -> int:
        return int(self.doc.get("priority") or 0)

    @property
    def status(self) -> str:
        """healthy, cooling or disabled (the operator's switch counts as disabled)."""
        if not self.doc.get("enabled", True):
            return "disabled"
        state = self.doc.get("state") or {}
        if state.get("status") == "disabled":
            return "disabled"
        if state.get("status") == "cooling" and state.get("cooldown_until", 0) > self.clock.now():
            return "cooling"
        return "healthy"

    def serves(self, group: str, model: str) -> bool:
        if group not in (self.doc.get("groups") or []):
            return False
        models = self.doc.get("models") or []
        return not models or any(fnmatchcase(model, m) for m in models)

    def scope_cooling(self, scope: str) -> bool:
        return self.scope_until.get(scope, 0.0) > self.clock.now()

    def has_capacity(self) -> bool:
        limit = int(self.doc.get("max_concurrency") or 0)
        return limit <= 0 or self.inflight < limit

    def upstream_model(self, model: str) -> str:
        return (self.doc.get("model_map") or {}).get(model, model)

    def record(self, ok: bool, latency_ms: float, ttft_ms: float | None, error_class: str | None) -> None:
        self.outcomes.append(Outcome(self.clock.now(), ok, latency_ms, ttft_ms, error_class))
        if error_class:
            self.last_error = error_class

    def stats(self, window: float) -> dict[str, Any]:
        """Requests, error rate and latency percentiles over the last ``window`` seconds."""
        cutoff = self.clock.now() - window
        recent = [o for o in self.outcomes if o.ts >= cutoff]
        lat = sorted(o.latency_ms for o in recent)
        ttft = sorted(o.ttft_ms for o in recent if o.ttft_ms is not None)
        errors = sum(1 for o in recent if not o.ok)

        def pct(values: list[float], p: float) -> float | None:
            return round(values[min(len(values) - 1, int(len(values) * p))], 1) if values else None

        return {"requests": len(recent), "errors": errors,
                "error_rate": round(errors / len(recent), 4) if recent else 0.0,
                "latency_p50_ms": pct(lat, 0.5), "latency_p95_ms": pct(lat, 0.95),
                "ttft_p50_ms": pct(ttft, 0.5), "ttft_p95_ms": pct(ttft, 0.95)}
