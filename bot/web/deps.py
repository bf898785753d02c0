"""What the routers take from the app: the shared Runtime, and the per-client rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from bot.runtime import Runtime


# Both dependencies are async because they never wait: a plain `def` would cost every request a hop
# through the thread pool.
async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def rate_limited(kind: str) -> DependsParam:
    """A route dependency: 429 with Retry-After when this client (IP) sent too many `kind` requests in
    the last minute (the limiters are the app's, see create_app)."""

    async def check(request: Request) -> None:
        request.app.state.rate_limits[kind].check(request.client.host if request.client else "unknown")

    return Depends(check)
