"""The target's own Prometheus metrics, served at ``/metrics``.

A registry per app (not the global one), so two targets in one process never
collide. Requests are labelled by route template, never by raw path, so the
series count stays bounded whatever ids clients send.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from starlette.routing import Match, Router

from target.calibration import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
UNMATCHED_ROUTE = "unmatched"

disable_created_metrics()  # *_created series only add noise for a scraper


class TargetMetrics:
    """All series the target exports; gauges read live values through callbacks."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "quantload_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "quantload_request_duration_seconds",
            "time from request to last byte",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "quantload_cache_hits", "cache hits", ["cache"], registry=self.registry
        )
        self.cache_misses = Counter(
            "quantload_cache_misses", "cache misses", ["cache"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "quantload_queue_depth", "jobs waiting for a worker", registry=self.registry
        )
        self.jobs_running = Gauge(
            "quantload_jobs_running", "jobs being run", registry=self.registry
        )
        self.job_workers = Gauge(
            "quantload_job_workers", "job worker processes", registry=self.registry
        )
        self.leaked_bytes = Gauge(
            "quantload_leaked_bytes",
            "bytes retained by --leak-kb-per-request",
            registry=self.registry,
        )
        self.slots_in_use = Gauge(
            "quantload_slots_in_use", "backtest slots held", registry=self.registry
        )
        self.backtests_in_flight = Gauge(
            "quantload_backtests_in_flight",
            "POST /v1/backtests requests being handled",
            registry=self.registry,
        )
        self.corrupted_answers = Counter(
            "quantload_corrupted_answers",
            "answers served with wrong metrics by --corrupt-above/--corrupt-rate",
            ["route"],
            registry=self.registry,
        )
        self.corruption_eligible = Counter(
            "quantload_corruption_eligible_answers",
            "answers built with more than --corrupt-above backtests in flight",
            ["route"],
            registry=self.registry,
        )

    def bind_live(
        self,
        *,
        queue_depth: Callable[[], float],
        jobs_running: Callable[[], float],
        job_workers: Callable[[], float],
        leaked_bytes: Callable[[], float],
        slots_in_use: Callable[[], float],
        backtests_in_flight: Callable[[], float],
    ) -> None:
        self.queue_depth.set_function(queue_depth)
        self.jobs_running.set_function(jobs_running)
        self.job_workers.set_function(job_workers)
        self.leaked_bytes.set_function(leaked_bytes)
        self.slots_in_use.set_function(slots_in_use)
        self.backtests_in_flight.set_function(backtests_in_flight)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class TelemetryMiddleware:
    """Counts every HTTP request and its duration, labelled by matched route template."""

    def __init__(self, app: ASGIApp, metrics: TargetMetrics, router: Router) -> None:
        self.app = app
        self.metrics = metrics
        self.router = router

    def _template(self, scope: Scope) -> str:
        """The route template; found by matching when a guard answered before routing."""
        route = scope.get("route")
        if route is None:
            for candidate in self.router.routes:
                if candidate.matches(scope)[0] == Match.FULL:
                    route = candidate
                    break
        return getattr(route, "path", None) or UNMATCHED_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            template = self._template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
