"""Prometheus metrics of one relay process, on a per-app ``CollectorRegistry`` (never the
global one, so two apps in one process do not collide).

The relay calls ``Metrics`` cheaply on the hot path: a counter increment and two histogram
observations per finished request, one counter per failed upstream attempt. Gauges that
describe state (in-flight requests, pool health) are read at scrape time by a collector."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from server.billing.charges import UsageRecord
    from server.pools.manager import PoolManager

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 60)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StateCollector(Collector):
    """Scrape-time gauges: in-flight requests and each account's health."""

    def __init__(self, inflight: Callable[[], int], pools: Callable[[], "PoolManager | None"],
                 usage_pending: Callable[[], int]) -> None:
        self._inflight = inflight
        self._pools = pools
        self._usage_pending = usage_pending

    def collect(self) -> Iterable[GaugeMetricFamily]:
        active = GaugeMetricFamily("jiuliu_active_requests", "Requests in flight (streams included)")
        active.add_metric([], float(self._inflight()))
        yield active
        pending = GaugeMetricFamily("jiuliu_usage_pending",
                                    "Finished requests whose usage and charge are not written yet")
        pending.add_metric([], float(self._usage_pending()))
        yield pending
        health = GaugeMetricFamily("jiuliu_upstream_healthy",
                                   "1 if the account can take requests, else 0", labels=["account", "status"])
        inflight = GaugeMetricFamily("jiuliu_upstream_inflight", "Requests in flight per account",
                                     labels=["account"])
        pools = self._pools()
        for account in (pools.accounts.values() if pools else ()):
            status = account.status
            health.add_metric([account.name, status], 1.0 if status == "healthy" else 0.0)
            inflight.add_metric([account.name], float(account.inflight))
        yield health
        yield inflight


class Metrics:
    """The relay's counters and histograms, registered on this app's own registry."""

    def __init__(self, inflight: Callable[[], int] = lambda: 0,
                 pools: Callable[[], "PoolManager | None"] = lambda: None,
                 usage_pending: Callable[[], int] = lambda: 0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("jiuliu_requests_total", "Finished relay requests",
                                ["route", "group", "status"], registry=r)
        self.attempts = Counter("jiuliu_upstream_attempts_total", "Upstream attempts by outcome",
                                ["account", "outcome"], registry=r)
        self.failovers = Counter("jiuliu_upstream_failures_total",
                                 "Failed upstream attempts by error class and the pool's action",
                                 ["account", "error_class", "action"], registry=r)
        self.latency = Histogram("jiuliu_request_latency_seconds", "Relay request latency",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("jiuliu_time_to_first_token_seconds", "Time to the first content byte",
                              ["route"], buckets=TTFT_BUCKETS, registry=r)
        self.charged = Counter("jiuliu_charged_micro_total", "Charged amount in micro-units",
                               ["group", "model"], registry=r)
        self.tokens = Counter("jiuliu_tokens_total", "Billed tokens", ["group", "kind"], registry=r)
        self.estimated = Counter("jiuliu_estimated_requests_total",
                                 "Cut streams billed on an estimate (no final usage), by method",
                                 ["group", "method"], registry=r)
        r.register(_StateCollector(inflight, pools, usage_pending))
        self._children: dict[tuple, object] = {}

    def _child(self, metric, *labels: str):
        """``metric.labels(*labels)``, remembered: the lookup is the costly part on the hot path."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def count_request(self, route: str, group: str, status: int) -> None:
        """Every finished relay request, refused ones included (the handler's ``on_finish``)."""
        self._child(self.requests, route, group, str(status)).inc()

    def observe_request(self, route: str, record: "UsageRecord") -> None:
        """Latency, time to first token and charge of one admitted request (``_record``)."""
        self._child(self.latency, route).observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            self._child(self.ttft, route).observe(record.ttft_ms / 1000)
        if record.rule is not None and not record.usage.is_empty():
            cost = record.cost().total
            if cost:
                self._child(self.charged, record.group, record.model).inc(cost)
            for kind, n in record.usage.as_dict().items():
                if n and kind != "reasoning":
                    self._child(self.tokens, record.group, kind).inc(n)
            if record.usage.estimate:
                self._child(self.estimated, record.group, record.usage.estimate).inc()

    def observe_attempt(self, account: str, ok: bool, error_class: str | None = None,
                        action: str = "") -> None:
        """One upstream attempt (called from the pool's report hooks)."""
        self._child(self.attempts, account, "ok" if ok else "error").inc()
        if not ok and error_class:
            self._child(self.failovers, account, error_class, action).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of everything registered."""
        return generate_latest(self.registry)
