"""What the routers take from the app: the shared Runtime and the metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.runtime import Runtime
from bot.web.metrics import Metrics


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
