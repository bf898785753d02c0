"""HTTP mode: Slack's Events API, interactivity and slash commands at POST /slack/events.

Every request's signature is checked here, before its body is parsed: a wrong signature, or a timestamp
more than 5 minutes off (or not a number), is refused with 401. A signed body that isn't what Slack sends
(a JSON object for events; a form for commands and interactivity, its `payload` a JSON object) gets 400.
Bolt's App is synchronous (its listeners may call Slack and SQLite before they ack), so it runs in a worker
thread and the event loop keeps serving the web app meanwhile."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt import BoltRequest
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_sdk.signature import SignatureVerifier

from bot.runtime import Runtime
from bot.slack.app import build_app
from bot.slack.ratelimit import RateLimit

log = logging.getLogger(__name__)
FORM = "application/x-www-form-urlencoded"
UNSIGNED = "ugyldig eller forældet Slack-signatur (invalid or expired Slack signature)"
UNREADABLE = "ugyldig Slack-forespørgsel (invalid Slack request)"
UNHANDLED = "Slack-forespørgslen blev ikke behandlet (the Slack request was not handled)"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _ssl_check(raw: bytes, request: Request) -> bool:
    """Slack's periodic check of a slash command's HTTPS URL; like bolt, it is answered 200 whether
    signed or not, since nothing is done for it."""
    return _media_type(request) == FORM and parse_qs(raw.decode("utf-8", "replace")).get("ssl_check") == ["1"]


def _signed(verifier: SignatureVerifier, raw: bytes, request: Request) -> bool:
    try:
        return verifier.is_valid_request(raw, request.headers)
    except (ValueError, TypeError):  # a timestamp that is no number, a signature that is not ASCII
        return False


def _bolt_request(raw: bytes, request: Request) -> BoltRequest:
    """The request as bolt reads it; ValueError with the reason when it is not shaped like Slack's."""
    body = raw.decode("utf-8")
    if _media_type(request) != FORM:
        if not isinstance(json.loads(body), dict):
            raise ValueError("the body is JSON but not an object")
    try:
        return BoltRequest(body=body, query=request.url.query, headers=dict(request.headers))
    except (TypeError, AttributeError) as exc:  # bolt reads fields it expects to be objects
        raise ValueError(f"unexpected Slack payload: {exc}") from exc


def _response(handled: Response) -> Response:
    """Bolt's own 4xx (e.g. no listener for the request) with the `detail` every 4xx here has."""
    if handled.status_code < 400:
        return handled
    log.warning("Slack request not handled (%d): %.200r", handled.status_code, handled.body)
    return JSONResponse({"detail": UNHANDLED}, status_code=handled.status_code)


def slack_router(runtime: Runtime, limit: RateLimit | None = None) -> APIRouter | None:
    """The router for the web app to include; None when SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is unset.
    `limit` replaces the per-user rate limit from the settings (tests)."""
    settings = runtime.settings
    if not (settings.slack_bot_token and settings.slack_signing_secret):
        return None
    app = build_app(runtime, limit)
    verifier = SignatureVerifier(settings.slack_signing_secret)
    router = APIRouter()

    @router.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        raw = await request.body()
        if _ssl_check(raw, request):
            return Response(status_code=200)
        if not _signed(verifier, raw, request):
            return JSONResponse({"detail": UNSIGNED}, status_code=401)
        try:
            bolt_request = _bolt_request(raw, request)
        except ValueError as exc:  # includes a body that is not UTF-8 or not JSON
            log.warning("refused a signed Slack request: %s", exc)
            return JSONResponse({"detail": f"{UNREADABLE}: {exc}"}, status_code=400)
        if retry := request.headers.get("x-slack-retry-num"):
            log.info("Slack retry %s (%s)", retry, request.headers.get("x-slack-retry-reason", "?"))
        handled = await anyio.to_thread.run_sync(app.dispatch, bolt_request)
        return _response(to_starlette_response(handled))

    return router
