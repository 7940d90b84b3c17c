"""Prometheus metrics: replies and latency by reply type, the fallback share, feedback, and dropped insights records.

Each app gets its own `CollectorRegistry`, so tests (and anything else) that build several apps in one process
never collide on metric names, and `/metrics` shows only this app's numbers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REPLY_TYPES = ("answer", "clarify", "fallback", "crisis")
#: Why an insights record was not stored: the queue was full, the database failed, or the app was shutting down.
DROP_REASONS = ("queue_full", "database", "stopped")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The app's metrics. Cheap to update from request threads: a few counter increments per reply."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.replies = Counter("bot_chat_replies", "Chat replies, by reply type.", ["type"], registry=self.registry)
        self.latency = Histogram(
            "bot_chat_latency_seconds",
            "Time to decide a chat reply, by reply type.",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fallback_ratio = Gauge(
            "bot_chat_fallback_ratio",
            "Share of replies since start that were fallbacks (for a windowed rate use "
            'rate(bot_chat_replies_total{type="fallback"}) / rate(bot_chat_replies_total)).',
            registry=self.registry,
        )
        self.feedback = Counter(
            "bot_feedback", "Thumbs up (helpful=true) and down received.", ["helpful"], registry=self.registry
        )
        self.dropped_records = Counter(
            "bot_insights_dropped",
            "Insights records (events, feedback) not stored, by kind and reason. Chats were answered regardless.",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "bot_insights_queue_depth", "Insights records waiting for the writer thread.", registry=self.registry
        )
        self._lock = threading.Lock()
        self._total = 0
        self._fallbacks = 0
        self.fallback_ratio.set_function(self._ratio)
        for kind in REPLY_TYPES:  # every series exists from the start, at 0, so rates work from the first scrape
            self.replies.labels(kind)
            self.latency.labels(kind)
        for helpful in ("true", "false"):
            self.feedback.labels(helpful)
        for record in ("event", "feedback"):
            for reason in DROP_REASONS:
                self.dropped_records.labels(record, reason)

    def _ratio(self) -> float:
        with self._lock:
            return self._fallbacks / self._total if self._total else 0.0

    def observe_reply(self, reply_type: str, seconds: float) -> None:
        self.replies.labels(reply_type).inc()
        self.latency.labels(reply_type).observe(seconds)
        with self._lock:
            self._total += 1
            self._fallbacks += reply_type == "fallback"

    def observe_feedback(self, helpful: bool) -> None:
        self.feedback.labels("true" if helpful else "false").inc()

    def dropped(self, kind: str, reason: str, count: int = 1) -> None:
        if count:
            self.dropped_records.labels(kind, reason).inc(count)

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Report the recorder's queue depth at scrape time."""
        self.queue_depth.set_function(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_router(metrics: Metrics) -> APIRouter:
    """`GET /metrics` in the Prometheus text format."""
    router = APIRouter()

    @router.get("/metrics", tags=["ops"], response_class=Response, summary="Prometheus metrics")
    def scrape() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return router
