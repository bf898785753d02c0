"""The Slack bot: HTTP mode for the web app (`slack_router`) and Socket Mode (`bot.slack.socket`)."""

from bot.slack.router import slack_router
from bot.slack.socket import run_socket_mode, start_socket_mode_in_background

__all__ = ["run_socket_mode", "slack_router", "start_socket_mode_in_background"]
