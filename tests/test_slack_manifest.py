"""The Slack app manifest asks for what the bot uses: its events, scopes, slash command, Socket Mode."""

from pathlib import Path

import yaml

import bot.slack

MANIFEST = Path(bot.slack.__file__).parent / "manifest.yaml"


def test_manifest_matches_what_the_bot_handles():
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["display_information"]["name"] == "Praktikbot"
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention", "message.channels", "message.groups", "message.im"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read", "channels:history", "groups:history", "im:history", "chat:write", "commands"}
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/praktik"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
