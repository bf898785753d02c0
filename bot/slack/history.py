"""The earlier turns of a Slack conversation, read back from Slack rather than kept in memory, so a
follow-up ("og hvorfor?") keeps its context across restarts and across processes.

Every answer the bot posts carries its question in the message metadata; the turns are those answers."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.models import Answer, Turn
from bot.slack.blocks import unescape

ANSWER_EVENT = "praktikbot_answer"
MAX_TURNS = 5
DM_WINDOW_SECONDS = 30 * 60  # in a DM without threads, answers this recent count as the conversation


def answer_metadata(answer: Answer, audit_id: int) -> dict:
    return {"event_type": ANSWER_EVENT, "event_payload": {"question": answer.question, "audit_id": audit_id}}


def turns(messages: list[dict], bot_id: str | None, before_ts: str) -> list[Turn]:
    """The bot's answers among `messages` posted before `before_ts`, oldest first (the last MAX_TURNS)."""
    found = []
    for message in sorted(messages, key=lambda m: float(m["ts"])):
        metadata = message.get("metadata") or {}
        if (float(message["ts"]) < float(before_ts) and message.get("bot_id") == bot_id
                and metadata.get("event_type") == ANSWER_EVENT):
            found.append(Turn(question=metadata["event_payload"]["question"],
                              answer=unescape(message.get("text", ""))))
    return found[-MAX_TURNS:]


def conversation(client: WebClient, bot_id: str | None, event: dict) -> list[Turn]:
    """The turns before the message `event`: its thread's, or in a DM outside threads the recent ones."""
    channel, ts = event["channel"], event["ts"]
    if event.get("thread_ts"):
        reply = client.conversations_replies(channel=channel, ts=event["thread_ts"], include_all_metadata=True,
                                             limit=200)
    elif event.get("channel_type") == "im":
        reply = client.conversations_history(channel=channel, oldest=str(float(ts) - DM_WINDOW_SECONDS),
                                             include_all_metadata=True, limit=20)
    else:
        return []
    return turns(reply.get("messages", []), bot_id, ts)
