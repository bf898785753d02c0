"""HTTP mode: Slack's Events API, interactivity and slash commands at POST /slack/events.

Bolt checks every request's signature and rejects one signed more than 5 minutes ago with 401."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.fastapi import SlackRequestHandler

from bot.runtime import Runtime
from bot.slack.app import build_app


def slack_router(runtime: Runtime) -> APIRouter | None:
    """The router for the web app to include; None when SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is unset."""
    settings = runtime.settings
    if not (settings.slack_bot_token and settings.slack_signing_secret):
        return None
    handler = SlackRequestHandler(build_app(runtime))
    router = APIRouter()

    @router.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    return router
