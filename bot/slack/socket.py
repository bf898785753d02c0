"""Socket Mode: the bot connects out to Slack over a WebSocket, so no public URL is needed (the usual
choice on an intranet). `praktikbot slack` runs it alone; `praktikbot serve` can run it next to the web
app in the same process, which keeps an embedded index to one writer."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.runtime import Runtime
from bot.slack.app import build_app


def _handler(runtime: Runtime) -> SocketModeHandler:
    # The handler opens its WebSocket through apps.connections.open on the app's client, so
    # PRAKTIKBOT_SLACK_API_URL applies here too.
    return SocketModeHandler(build_app(runtime), runtime.settings.slack_app_token)


def run_socket_mode(runtime: Runtime) -> None:
    """Connect and serve until the process is stopped (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN)."""
    handler = _handler(runtime)
    try:
        handler.start()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()


def start_socket_mode_in_background(runtime: Runtime) -> SocketModeHandler | None:
    """Connect and return at once (the client runs in its own threads); call .close() on the result at
    shutdown. None when SLACK_BOT_TOKEN or SLACK_APP_TOKEN is unset."""
    settings = runtime.settings
    if not (settings.slack_bot_token and settings.slack_app_token):
        return None
    handler = _handler(runtime)
    handler.connect()
    return handler
