"""Prometheus metrics at /metrics: HTTP requests and latency, answers and abstentions, and the size of
the index. Each app has its own registry, so several apps (tests) never share counters."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.models import Answer
from bot.runtime import Runtime
from ingest.reader import IndexMissingError


class _IndexCollector(Collector):
    """Documents and chunks of the published generation, read when Prometheus scrapes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = self.runtime.status()
        except IndexMissingError:
            stats = {"documents": 0, "chunks": 0}
        yield GaugeMetricFamily("praktikbot_documents", "Documents in the index", value=stats["documents"])
        yield GaugeMetricFamily("praktikbot_chunks", "Chunks (passages) in the index", value=stats["chunks"])


class Metrics:
    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("praktikbot_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("praktikbot_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.answers = Counter("praktikbot_answers", "Questions answered or abstained on", ["channel"],
                               registry=self.registry)
        self.abstentions = Counter("praktikbot_abstentions", "Questions the sources did not answer",
                                   ["channel"], registry=self.registry)
        self.registry.register(_IndexCollector(runtime))
        runtime.answer_observers.append(self.observe_answer)  # web, draft and Slack alike

    def observe_answer(self, answer: Answer, channel: str) -> None:
        self.answers.labels(channel).inc()
        if answer.abstained:
            self.abstentions.labels(channel).inc()

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # the route's template (/api/documents/{doc_id}), so labels don't grow with every id
        route = getattr(request.scope.get("route"), "path", "other")
        self.requests.labels(request.method, route, str(response.status_code)).inc()
        self.latency.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
