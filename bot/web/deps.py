"""What the routers take from the app: the shared Runtime and the metrics."""

from __future__ import annotations

from fastapi import Request

from bot.runtime import Runtime
from bot.web.metrics import Metrics


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def metrics(request: Request) -> Metrics:
    return request.app.state.metrics
