"""Limits on what one client can make the server do: the size of a request body, and how many asks
and drafts a client may send a minute. Both answer with a clear 4xx before the work is done."""

from __future__ import annotations

import logging
import math

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.ratelimit import SlidingWindow

log = logging.getLogger(__name__)


class BodyTooLargeError(HTTPException):
    """Raised while a body streams in: FastAPI passes an HTTPException through its body parsing, so the
    app's handler answers it like any other 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"forespørgslen er for stor: højst {limit} bytes "
                              f"(request body too large: at most {limit} bytes)")


class BodyLimitMiddleware:
    """413 for a body over its route's limit: at once when Content-Length says so, else as soon as the
    bytes received pass it, so an over-size body is never read (or spooled) whole. A pure ASGI
    middleware: it buffers nothing and costs one counter per request."""

    def __init__(self, app: ASGIApp, default: int, routes: dict[tuple[str, str], int]) -> None:
        self.app = app
        self.default = default
        self.routes = routes  # (method, path) → its own limit, e.g. the upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get((scope["method"], scope["path"]), self.default)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, BodyTooLargeError(limit))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started |= message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLargeError as exc:  # read outside the routes' error handling (or re-raised by it)
            if started:
                raise
            await self._refuse(scope, receive, send, exc)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: BodyTooLargeError) -> None:
        log.warning("refused a request body over the limit: %s %s", scope["method"], scope["path"])
        await JSONResponse({"detail": error.detail}, status_code=413)(scope, receive, send)


class RateLimiter(SlidingWindow):
    """The per-client limit of a route: a sliding window that answers 429."""

    def check(self, client: str) -> None:
        """HTTP 429 with Retry-After (whole seconds) when the client is over the limit."""
        wait = self.wait(client)
        if wait > 0:
            log.warning("rate limit: %s sent more than %d requests in a minute", client, self.per_minute)
            raise HTTPException(429, f"for mange forespørgsler: højst {self.per_minute} i minuttet; prøv igen om "
                                     f"{math.ceil(wait)} s (too many requests, retry after {math.ceil(wait)} s)",
                                headers={"Retry-After": str(math.ceil(wait))})
