"""Prometheus metrics at /metrics: HTTP requests and latency, answers and abstentions, whether the bot
can answer, and the size of the index. Each app has its own registry, so several apps (tests) never
share counters. The health probe here is also what /healthz reports."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.followup import metrics as followup_metrics
from bot.models import Answer
from bot.runtime import Runtime

log = logging.getLogger(__name__)
STORE_DOWN = ("søgeindekset (Chroma-serveren) svarer ikke; prøv igen om lidt "
              "(the vector store (Chroma server) does not respond; try again shortly)")


@dataclass
class Health:
    status: dict | None  # the index's figures, when they could be read
    problem: str | None = None  # why questions can't be answered now; None when they can


def health(runtime: Runtime) -> Health:
    """Whether questions can be answered: an index is published and the vector store answers."""
    try:
        status = runtime.status()
    except Exception as exc:  # no index, a store that can't be opened, a bad setting: all mean "can't answer"
        log.warning("health: %s", exc)
        return Health(None, str(exc))
    try:
        runtime.service.reader.store.heartbeat()
    except Exception as exc:  # a Chroma client fails in many types (httpx, chromadb, ValueError)
        log.warning("health: the vector store does not respond: %s", exc)
        return Health(status, f"{STORE_DOWN}: {exc}")
    return Health(status)


class _IndexCollector(Collector):
    """Whether the bot can answer, and the documents and chunks of the published generation, read
    when Prometheus scrapes. A failing probe is a 0, never a failed scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        probe = health(self.runtime)
        yield GaugeMetricFamily("praktikbot_up", "1 when questions can be answered (index and vector store)",
                                value=0 if probe.problem else 1)
        if probe.status is not None:
            yield GaugeMetricFamily("praktikbot_documents", "Documents in the index", value=probe.status["documents"])
            yield GaugeMetricFamily("praktikbot_chunks", "Chunks (passages) in the index",
                                    value=probe.status["chunks"])


class _FollowUpCollector(Collector):
    """People in the loop, read from the shared database when Prometheus scrapes (so every replica reports
    the same): escalations, open ones, the median time to a person's answer, the share of declined answers.
    A database that fails leaves these out of the scrape, logged."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            figures = followup_metrics(self.runtime.records)
        except SQLAlchemyError as exc:
            log.warning("metrics: the database does not answer: %s", exc)
            return
        yield GaugeMetricFamily("praktikbot_escalations", "Questions sent to the experts", value=figures["escalations"])
        yield GaugeMetricFamily("praktikbot_escalations_open", "Escalations without a person's answer yet",
                                value=figures["open"])
        if figures["median_minutes_to_answer"] is not None:
            yield GaugeMetricFamily("praktikbot_escalation_answer_minutes", "Median minutes to a person's answer",
                                    value=figures["median_minutes_to_answer"])
        yield GaugeMetricFamily("praktikbot_declined_share", "Share of answers in the audit log that declined",
                                value=figures["declined_share"])


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
        self.registry.register(_FollowUpCollector(runtime))
        runtime.answer_observers.append(self.observe_answer)  # web, draft and Slack alike

    def observe_answer(self, answer: Answer, channel: str) -> None:
        self.answers.labels(channel).inc()
        if answer.abstained:
            self.abstentions.labels(channel).inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times every HTTP request. A plain ASGI middleware: Starlette's BaseHTTPMiddleware
    would add a task and a stream per request, more than the rest of the HTTP layer costs."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # the route's template (/api/documents/{doc_id}), so labels don't grow with every id
            route = getattr(scope.get("route"), "path", "other")
            self.metrics.observe_request(scope["method"], route, status, time.perf_counter() - started)
