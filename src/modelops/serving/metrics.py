"""Prometheus metrics of the service (prometheus_client), one registry per app.

Requests are counted and timed by a small ASGI middleware, labelled by route (unknown paths
share the label "other", so a scanner cannot grow the label set) and status code.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ServiceMetrics:
    """The service's counters, timers and gauges, in their own CollectorRegistry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "modelops_requests",
            "HTTP requests by route and status",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "modelops_request_seconds",
            "HTTP request latency by route and status",
            ["endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rows_scored = Counter("modelops_rows_scored", "rows scored", registry=r)
        self.rows_rejected = Counter(
            "modelops_rows_rejected", "rows returned as rejected (value not readable)", registry=r
        )
        self.model_version = Gauge(
            "modelops_model_version", "version number of the live model", ["model_name"], registry=r
        )
        self.swaps = Counter("modelops_model_swaps", "times a new version went live", registry=r)
        self.refused = Gauge(
            "modelops_model_refused_versions",
            "versions the alias named that failed verification (since the last SIGHUP)",
            registry=r,
        )
        self.log_failures = Gauge(
            "modelops_prediction_log_failures",
            "prediction-log writes that failed (rows kept and retried)",
            registry=r,
        )
        self.log_dropped = Gauge(
            "modelops_prediction_log_dropped_rows",
            "served rows dropped from the prediction log because its buffer was full",
            registry=r,
        )
        self.log_buffered = Gauge(
            "modelops_prediction_log_buffered_rows", "rows waiting to be logged", registry=r
        )


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task or body copy): count and time every request."""

    def __init__(self, app: Any, metrics: ServiceMetrics, routes: set[str]):
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope.get("path", "")
            endpoint = path if path in self.routes else "other"
            code = str(status["code"])
            self.metrics.requests.labels(endpoint, code).inc()
            self.metrics.latency.labels(endpoint, code).observe(time.perf_counter() - t0)
