"""The FastAPI apps: `praktikbot serve`'s (the API routers, the page, /metrics, Slack's HTTP endpoint
when configured) and `praktikbot worker`'s (/healthz, /metrics and the admin API only). Both have the
limits on request bodies and per-client rates, and one mapping from the core's errors to HTTP statuses,
so no router repeats it and bad input never becomes a 5xx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from slack_sdk.errors import SlackApiError

from bot.answer import InvalidQuestionError
from bot.draft import InquiryError
from bot.llm import LLMConfigError
from bot.runtime import NotTheWriterError, Runtime
from bot.slack.router import slack_router
from bot.slack.socket import start_socket_mode_in_background
from bot.web import admin, api
from bot.web.auth import TokenBackoff
from bot.web.limits import BodyLimitMiddleware, RateLimiter
from bot.web.metrics import Metrics, MetricsMiddleware
from ingest.dates import DateError
from ingest.embeddings import EmbeddingsConfigError
from ingest.lock import IndexBusyError
from ingest.reader import IndexMissingError
from ingest.sync import IngestConfigError
from ingest.timeline import TimelineError
from ingest.vectorstore import IndexUnavailableError

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
# an upload may be as large as its cap plus the multipart envelope around it (boundaries, part headers)
UPLOAD_BODY_BYTES = admin.MAX_UPLOAD_BYTES + 64 * 1024
ERROR_STATUS: dict[type[Exception], int] = {
    InvalidQuestionError: 422,
    InquiryError: 422,
    DateError: 422,
    TimelineError: 422,
    IndexBusyError: 409,
    NotTheWriterError: 409,
    IndexMissingError: 503,
    IndexUnavailableError: 503,
    IngestConfigError: 503,  # includes a model mismatch: the message says to rebuild
    EmbeddingsConfigError: 503,
    LLMConfigError: 503,
}


def _error_handler(status: int):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if status >= 500:  # the service can't answer: the operator must hear of it, not only the client
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handle


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's list of errors as the one clear sentence the contract asks for. A location may hold a
    key sent by the client, so text JSON can't carry (a lone surrogate) is replaced."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in error['loc'] if p != 'body') or 'body'}: {error['msg']}"
        for error in exc.errors()
    )
    detail = f"ugyldig forespørgsel (invalid request): {problems}".encode("utf-8", "replace").decode("utf-8")
    return JSONResponse({"detail": detail}, status_code=422)


def _lifespan(runtime: Runtime):
    """Run Slack's Socket Mode in this process when its tokens are set, so web and Slack share one
    writer of an embedded index. A Slack that can't be reached is logged; the web still serves."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        socket = None
        try:
            socket = await anyio.to_thread.run_sync(start_socket_mode_in_background, runtime)
        except (SlackApiError, OSError) as exc:
            log.error("Slack Socket Mode could not connect; the web app runs without it: %s", exc)
        try:
            yield
        finally:
            if socket is not None:
                await anyio.to_thread.run_sync(socket.close)
            runtime.records.close()

    return lifespan


def _base_app(runtime: Runtime, lifespan, title: str) -> FastAPI:
    """What both apps share: state, limits, metrics, error mapping, the admin API and /metrics."""
    app = FastAPI(title=title, version="0.1.0", docs_url=None, lifespan=lifespan,
                  description="Svar med kildehenvisninger om virksomhedspraktik (answers with citations)")
    settings = runtime.settings
    app.state.runtime = runtime
    app.state.metrics = metrics = Metrics(runtime)
    app.state.rate_limits = {"ask": RateLimiter(settings.rate_ask_per_minute),
                             "draft": RateLimiter(settings.rate_draft_per_minute)}
    app.state.admin_backoff = TokenBackoff()
    # the body limit sits inside the metrics, so its 413s are counted too
    app.add_middleware(BodyLimitMiddleware, default=settings.max_body_bytes,
                       routes={("POST", "/api/admin/documents"): UPLOAD_BODY_BYTES})
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    for error, status in ERROR_STATUS.items():
        app.add_exception_handler(error, _error_handler(status))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.include_router(api.health_router)
    app.include_router(admin.router)

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint() -> Response:
        return metrics.render()

    return app


def create_worker_app(runtime: Runtime) -> FastAPI:
    """The worker's: health, metrics and the admin API over the jobs it runs; it answers no questions."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            runtime.records.close()

    return _base_app(runtime, lifespan, "Praktikbot worker")


def create_app(runtime: Runtime) -> FastAPI:
    app = _base_app(runtime, _lifespan(runtime), "Praktikbot")
    app.include_router(api.router)
    if (slack := slack_router(runtime)) is not None:
        app.include_router(slack)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from the installed bundle: the page must work without internet."""
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="Praktikbot API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")
    return app
