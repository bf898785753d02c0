"""The Slack bot on slack_bolt: mentions, DMs, thread follow-ups, `/praktik` and the answer buttons.

The same App serves HTTP mode (signed requests to /slack/events) and Socket Mode. With
process_before_response off (bolt's default), bolt acknowledges an event at once and runs its listener in
a worker thread, and a command or button returns its HTTP response as soon as the listener calls ack():
so Slack's 3-second limit holds however long an answer or a re-ingest takes."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answer import InvalidQuestionError
from bot.models import Answer, Turn
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import texts
from bot.slack.blocks import (
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    OPEN_WEB,
    SHARE,
    SHOW_SOURCES,
    answer_blocks,
    notification_text,
    sources_view,
)
from bot.slack.history import answer_metadata, conversation
from ingest.lock import IndexBusyError
from ingest.reader import IndexMissingError

log = logging.getLogger(__name__)
WORKERS = 16  # answers, re-ingest and button clicks run in these threads, after the ack
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_HELP_WORDS, _STATUS_WORDS, _REINDEX_WORDS = {"", "help", "hjælp"}, {"status"}, {"reindex", "genindlæs"}


def api_base_url(settings: Settings) -> str:
    """PRAKTIKBOT_SLACK_API_URL (tests, proxies) or Slack's own; the SDK wants the trailing slash."""
    return (settings.slack_api_url or WebClient.BASE_URL).rstrip("/") + "/"


@contextmanager
def reported(notify: Callable[[str], object]) -> Iterator[None]:
    """Turn a failure into one short message to the user (and a log entry); the bot keeps running."""
    try:
        yield
        return
    except InvalidQuestionError as exc:
        message = str(exc)[:1].upper() + str(exc)[1:]
    except IndexMissingError:
        message = texts.NO_INDEX
    except Exception:
        log.exception("Slack request failed")
        message = texts.ERROR
    try:
        notify(message)
    except Exception:
        log.exception("could not tell the Slack user about the failure")


def _ephemeral(respond: Respond) -> Callable[[str], object]:
    return lambda text: respond(text=text, response_type="ephemeral", replace_original=False)


def _in_conversation(client: WebClient, event: dict, thread: str | None) -> Callable[[str], object]:
    return lambda text: client.chat_postMessage(channel=event["channel"], thread_ts=thread, text=text)


class SlackBot:
    """The listeners; one instance per App."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.public_url = runtime.settings.public_url

    def register(self, app: App) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command("/praktik")(self.on_command)
        app.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(self.on_feedback)
        app.action(SHOW_SOURCES)(self.on_show_sources)
        app.action(SHARE)(self.on_share)
        app.action(OPEN_WEB)(self.on_link)

    # --- conversations ---------------------------------------------------------------------------

    def on_mention(self, event: dict, context: BoltContext, client: WebClient) -> None:
        """A mention in a channel: answered in its thread, with the thread's earlier turns."""
        thread = event.get("thread_ts") or event["ts"]
        with reported(_in_conversation(client, event, thread)):
            self._converse(client, event, thread, conversation(client, context.bot_id, event))

    def on_message(self, event: dict, context: BoltContext, client: WebClient) -> None:
        """A direct message, or a follow-up in a channel thread the bot has answered in before."""
        if event.get("subtype") not in (None, "thread_broadcast") or event.get("bot_id"):
            return  # edits, joins, bots (the bot itself included)
        thread = event.get("thread_ts")
        if event.get("channel_type") == "im":
            with reported(_in_conversation(client, event, thread)):
                self._converse(client, event, thread, conversation(client, context.bot_id, event))
            return
        if not thread or f"<@{context.bot_user_id}>" in event.get("text", ""):
            return  # channel chatter outside threads; mentions come as app_mention
        try:
            history = conversation(client, context.bot_id, event)
        except SlackApiError:  # not knowing whether the bot is in this thread, it stays quiet
            log.exception("could not read thread %s in %s", thread, event["channel"])
            return
        if history:
            with reported(_in_conversation(client, event, thread)):
                self._converse(client, event, thread, history)

    def _converse(self, client: WebClient, event: dict, thread: str | None, history: list[Turn]) -> None:
        question = _MENTION.sub("", event.get("text", "")).strip()
        if not question:
            _in_conversation(client, event, thread)(texts.EMPTY_QUESTION)
            return
        answer, audit_id = self.runtime.ask(question, history, channel="slack")
        self._post(client, event["channel"], thread, answer, audit_id)

    def _post(self, client: WebClient, channel: str, thread: str | None, answer: Answer, audit_id: int,
              asker: str | None = None) -> None:
        client.chat_postMessage(channel=channel, thread_ts=thread, text=notification_text(answer),
                                blocks=answer_blocks(answer, audit_id, self.public_url, asker=asker),
                                metadata=answer_metadata(answer, audit_id), unfurl_links=False,
                                unfurl_media=False)

    # --- /praktik ----------------------------------------------------------------------------------

    def on_command(self, ack: Ack, command: dict, respond: Respond) -> None:
        """`/praktik <spørgsmål> | help | status | reindex`; every reply is visible to the caller only."""
        ack()
        text = command.get("text", "").strip()
        word = text.lower()
        with reported(_ephemeral(respond)):
            if word in _HELP_WORDS:
                respond(text=texts.HELP, response_type="ephemeral")
            elif word in _STATUS_WORDS:
                respond(text=texts.status(self.runtime.status()), response_type="ephemeral")
            elif word in _REINDEX_WORDS:
                self._reindex(command["user_id"], respond)
            else:
                answer, audit_id = self.runtime.ask(text, [], channel="slack")
                respond(text=notification_text(answer), response_type="ephemeral",
                        blocks=answer_blocks(answer, audit_id, self.public_url, asker=command["user_id"],
                                             shareable=True))

    def _reindex(self, user: str, respond: Respond) -> None:
        if user not in self.runtime.settings.slack_admin_ids:
            respond(text=texts.REINDEX_REFUSED, response_type="ephemeral")
            return
        respond(text=texts.REINDEX_STARTED, response_type="ephemeral")
        try:
            report = self.runtime.reindex()
        except IndexBusyError:
            respond(text=texts.REINDEX_BUSY, response_type="ephemeral")
            return
        except Exception as exc:
            log.exception("re-index from Slack failed")
            respond(text=texts.reindex_failed(exc), response_type="ephemeral")
            return
        respond(text=texts.ingest_report(report.as_dict()), response_type="ephemeral")

    # --- buttons -----------------------------------------------------------------------------------

    def on_feedback(self, ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        """👍/👎 go into the same feedback store as the web's."""
        ack()
        with reported(_ephemeral(respond)):
            audit_id = int(action["value"])
            answer = self.runtime.records.answer(audit_id)
            rating = 1 if action["action_id"] == FEEDBACK_UP else -1
            self.runtime.records.feedback("slack", answer.question if answer else "", rating,
                                          audit_id=audit_id, user=body["user"]["id"])
            _ephemeral(respond)(texts.THANKS)

    def on_show_sources(self, ack: Ack, body: dict, action: dict, client: WebClient,
                        respond: Respond) -> None:
        """"Vis kilder": a modal with the full passages (the trigger id is valid for 3 seconds only)."""
        ack()
        with reported(_ephemeral(respond)):
            answer = self.runtime.records.answer(int(action["value"]))
            if answer is None:
                _ephemeral(respond)(texts.EXPIRED)
                return
            client.views_open(trigger_id=body["trigger_id"], view=sources_view(answer))

    def on_share(self, ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        """"Del i kanalen": post the ephemeral `/praktik` answer publicly, then remove the ephemeral one."""
        ack()
        with reported(_ephemeral(respond)):
            audit_id = int(action["value"])
            answer = self.runtime.records.answer(audit_id)
            if answer is None:
                _ephemeral(respond)(texts.EXPIRED)
                return
            try:
                self._post(client, body["channel"]["id"], None, answer, audit_id, asker=body["user"]["id"])
            except SlackApiError as exc:
                if exc.response.get("error") not in ("not_in_channel", "channel_not_found"):
                    raise
                _ephemeral(respond)(texts.NOT_IN_CHANNEL)
                return
            respond(delete_original=True)

    def on_link(self, ack: Ack) -> None:
        """"Åbn i webappen" opens its URL in the browser; Slack still expects the click acknowledged."""
        ack()


def build_app(runtime: Runtime) -> App:
    """The bolt App for HTTP mode and Socket Mode; its Web API calls go to PRAKTIKBOT_SLACK_API_URL when set.
    The token is checked on the first request, not here, so a Slack outage cannot stop the web app."""
    settings = runtime.settings
    app = App(token=settings.slack_bot_token, signing_secret=settings.slack_signing_secret or "",
              token_verification_enabled=False,
              listener_executor=ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="slack"))
    # Set here rather than by passing client=, which bolt warns about whenever SLACK_BOT_TOKEN is in the
    # environment; bolt copies the base URL into each request's client, Socket Mode uses app.client.
    app.client.base_url = api_base_url(settings)
    SlackBot(runtime).register(app)
    return app
