"""Socket Mode: the bot connects out to Slack over a WebSocket, so no public URL is needed (the usual
choice on an intranet). `praktikbot slack` runs it alone; `praktikbot serve` can run it next to the web
app in the same process, which keeps an embedded index to one writer."""

from __future__ import annotations

import logging
import threading

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.runtime import Runtime
from bot.slack.app import build_app

log = logging.getLogger(__name__)


def _handler(runtime: Runtime) -> SocketModeHandler:
    # The handler opens its WebSocket through apps.connections.open on the app's client, so
    # PRAKTIKBOT_SLACK_API_URL applies here too. Once connected, it reconnects by itself.
    return SocketModeHandler(build_app(runtime), runtime.settings.slack_app_token)


def run_socket_mode(runtime: Runtime) -> None:
    """Connect and serve until the process is stopped (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN).
    A first connection that fails (wrong token, Slack unreachable) ends the command with the reason."""
    handler = _handler(runtime)
    try:
        handler.connect()
    except (SlackApiError, OSError) as exc:
        raise SystemExit(f"praktikbot: kan ikke forbinde til Slack (cannot connect to Slack): {exc}") from exc
    log.info("connected to Slack in Socket Mode")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()


def start_socket_mode_in_background(runtime: Runtime) -> SocketModeHandler | None:
    """Connect and return at once (the client runs in its own threads); call .close() on the result at
    shutdown. None when SLACK_BOT_TOKEN or SLACK_APP_TOKEN is unset; raises like run_socket_mode's
    connect (SlackApiError, OSError) when the first connection fails."""
    settings = runtime.settings
    if not (settings.slack_bot_token and settings.slack_app_token):
        return None
    handler = _handler(runtime)
    handler.connect()
    return handler
