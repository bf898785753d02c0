"""What the routers take from the app: the shared Runtime, and the per-client rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from bot.runtime import Runtime


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def rate_limited(kind: str) -> DependsParam:
    """A route dependency: 429 with Retry-After when this client (IP) sent too many `kind` requests in
    the last minute (the limiters are the app's, see create_app)."""

    def check(request: Request) -> None:
        request.app.state.rate_limits[kind].check(request.client.host if request.client else "unknown")

    return Depends(check)
