"""Prometheus metrics of one API server (its own registry, so several servers can run
in one process, as in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "apiserver_request_total",
            "API requests by verb, resource and HTTP code",
            ["verb", "resource", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "apiserver_request_duration_seconds",
            "API request latency (watches excluded)",
            ["verb", "resource"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.watches = Gauge(
            "apiserver_open_watches", "Watches being served", ["resource"], registry=self.registry
        )
        self.store_latency = Histogram(
            "navarch_store_request_duration_seconds",
            "Store call latency seen by the API server",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "apiserver_current_inflight_requests", "Requests in flight", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
