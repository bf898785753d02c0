"""The Slack bot on slack_bolt: mentions, DMs, thread follow-ups, `/praktik` and the answer buttons.

The same App serves HTTP mode (signed requests to /slack/events) and Socket Mode. With
process_before_response off (bolt's default), bolt acknowledges an event at once and runs its listener in
a worker thread, and a command or button returns its HTTP response as soon as the listener calls ack():
so Slack's 3-second limit holds however long an answer or a re-ingest takes.

What Slack really sends is filtered before anything costs an answer or an API call: other bots' and the
bot's own messages, edits and deletions are ignored; an event delivered again (Slack's retries) is
answered once, across replicas; in a thread only questions are answered (PRAKTIKBOT_SLACK_THREAD_REPLIES);
and each user may ask PRAKTIKBOT_SLACK_USER_RATE_PER_MINUTE questions a minute."""

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
    ASK_EXPERT,
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    OPEN_WEB,
    SAVE_SOURCE,
    SHARE,
    SHOW_SOURCES,
    answer_blocks,
    notification_text,
    sources_view,
)
from bot.slack.escalate import Escalations
from bot.slack.history import answer_metadata, conversation
from bot.slack.incoming import is_closing, mentions, plain_text, wants_answer
from bot.slack.ratelimit import RateLimit, Verdict
from bot.slack.seen import SeenEvents
from ingest.lock import IndexBusyError
from ingest.reader import IndexMissingError

log = logging.getLogger(__name__)
WORKERS = 16  # answers, re-ingest and button clicks run in these threads, after the ack
AUDIT_ID_LIMIT = 2**63  # SQLite's integers; a button value beyond it can't be an audit id
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


def _to_asker(client: WebClient, event: dict, thread: str | None) -> Callable[[str], object]:
    """A message in the conversation that only the asker sees."""
    return lambda text: client.chat_postEphemeral(channel=event["channel"], user=event.get("user", ""),
                                                  thread_ts=thread, text=text)


def _from_a_bot(event: dict, context: BoltContext) -> bool:
    """Another bot's message or the bot's own: answering it could start a loop."""
    own = context.bot_user_id is not None and event.get("user") == context.bot_user_id
    return own or bool(event.get("bot_id")) or event.get("subtype") == "bot_message"


def _audit_id(value: object) -> int | None:
    """The audit id a button carries, or None for a value that can't be one (negative, too big, not a
    number: a forged or mangled click)."""
    if not (isinstance(value, str) and value.isascii() and value.isdigit()) or int(value) >= AUDIT_ID_LIMIT:
        return None
    return int(value)


class SlackBot:
    """The listeners; one instance per App."""

    def __init__(self, runtime: Runtime, limit: RateLimit | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.public_url = runtime.settings.public_url
        self.seen = SeenEvents(runtime.records.database)
        self.limit = limit or RateLimit(runtime.settings.slack_user_rate_per_minute)
        self.escalations = Escalations(runtime)

    def register(self, app: App) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command("/praktik")(self.on_command)
        app.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(self.on_feedback)
        app.action(SHOW_SOURCES)(self.on_show_sources)
        app.action(SHARE)(self.on_share)
        app.action(OPEN_WEB)(self.on_link)
        app.action(ASK_EXPERT)(self.on_ask_expert)
        app.action(SAVE_SOURCE)(self.on_save_source)

    # --- conversations ---------------------------------------------------------------------------

    def on_mention(self, body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        """A mention in a channel: answered in its thread, with the thread's earlier turns."""
        question = plain_text(event.get("text", ""), context.bot_user_id)
        if _from_a_bot(event, context) or (question and is_closing(question)) or not self._first_delivery(body):
            return
        thread = event.get("thread_ts") or event["ts"]
        self._converse(client, event, thread, question, lambda: conversation(client, context.bot_id, event))

    def on_message(self, body: dict, event: dict, context: BoltContext, client: WebClient) -> None:
        """A direct message, or a follow-up in a channel thread the bot has answered in before."""
        if _from_a_bot(event, context) or event.get("subtype") not in (None, "thread_broadcast"):
            return  # bots (the bot itself included), edits, deletions, joins
        if event.get("channel") == self.settings.slack_expert_channel:
            if event.get("thread_ts") and self._first_delivery(body):  # an expert answering an escalation
                with reported(_in_conversation(client, event, event["thread_ts"])):
                    self.escalations.on_reply(client, event)
            return
        text, thread = event.get("text", ""), event.get("thread_ts")
        question = plain_text(text, context.bot_user_id)
        if event.get("channel_type") == "im":
            if wants_answer(question, "all") and self._first_delivery(body):
                self._converse(client, event, thread, question,
                               lambda: conversation(client, context.bot_id, event))
            return
        # Channel chatter outside threads is not for the bot, and a mention comes as its own app_mention.
        # Deciding on the text before reading the thread spares "tak!" the conversations.replies call.
        if (not thread or mentions(text, context.bot_user_id)
                or not wants_answer(question, self.settings.slack_thread_replies) or not self._first_delivery(body)):
            return
        try:
            history = conversation(client, context.bot_id, event)
        except SlackApiError:  # not knowing whether the bot is in this thread, it stays quiet
            log.exception("could not read thread %s in %s", thread, event["channel"])
            return
        if history:
            self._converse(client, event, thread, question, lambda: history)

    def _first_delivery(self, body: dict) -> bool:
        """False for an event this or another replica has claimed already (Slack's retry of it)."""
        event_id = body.get("event_id")
        if not isinstance(event_id, str):
            return True
        first = self.seen.claim(event_id)  # True when the database can't say: better twice than never
        if not first:
            log.info("Slack delivered event %s again; it is answered once", event_id)
        return first

    def _admitted(self, user: str, tell: Callable[[str], object]) -> bool:
        """Whether `user` is within the rate limit; the first question over it gets one short message."""
        verdict = self.limit.check(user)
        if verdict is Verdict.ALLOW:
            return True
        log.info("Slack user %s asked more than %d questions a minute; not answered", user, self.limit.per_minute)
        if verdict is Verdict.REFUSE:
            tell(texts.RATE_LIMITED)
        return False

    def _converse(self, client: WebClient, event: dict, thread: str | None, question: str,
                  history: Callable[[], list[Turn]]) -> None:
        """Answer `question` in its conversation; the earlier turns are read only once it will be answered."""
        notify = _in_conversation(client, event, thread)
        with reported(notify):
            if not question:
                notify(texts.EMPTY_QUESTION)
            elif self._admitted(event.get("user", ""), _to_asker(client, event, thread)):
                answer, audit_id = self.runtime.ask(question, history(), channel="slack",
                                                    audiences=self.settings.slack_audiences(event["channel"]))
                self._post(client, event["channel"], thread, answer, audit_id)
                if answer.abstained and self.escalations.enabled:  # the sources don't answer: ask a person
                    notify(self.escalations.escalate(client, audit_id, answer, event.get("user", ""),
                                                     event["channel"], thread or event["ts"], "declined"))

    def _post(self, client: WebClient, channel: str, thread: str | None, answer: Answer, audit_id: int,
              asker: str | None = None) -> None:
        client.chat_postMessage(channel=channel, thread_ts=thread, text=notification_text(answer),
                                blocks=answer_blocks(answer, audit_id, self.public_url, asker=asker,
                                                     experts=self.escalations.enabled),
                                metadata=answer_metadata(answer, audit_id), unfurl_links=False,
                                unfurl_media=False)

    # --- /praktik ----------------------------------------------------------------------------------

    def on_command(self, ack: Ack, command: dict, context: BoltContext, respond: Respond) -> None:
        """`/praktik <spørgsmål> | help | status | reindex`; every reply is visible to the caller only."""
        ack()
        text = plain_text(command.get("text", ""), context.bot_user_id)
        word = text.lower()
        with reported(_ephemeral(respond)):
            if word in _HELP_WORDS:
                respond(text=texts.HELP, response_type="ephemeral")
            elif word in _STATUS_WORDS:
                respond(text=texts.status(self.runtime.status()), response_type="ephemeral")
            elif word in _REINDEX_WORDS:
                self._reindex(command["user_id"], respond)
            elif self._admitted(command["user_id"], _ephemeral(respond)):
                audiences = self.settings.slack_audiences(command.get("channel_id", ""))
                answer, audit_id = self.runtime.ask(text, [], channel="slack", audiences=audiences)
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

    def _stored(self, action: dict, respond: Respond) -> tuple[int, Answer] | None:
        """The answer a button belongs to; when its value is no audit id or the answer is no longer
        stored, the user is told so and None is returned."""
        audit_id = _audit_id(action.get("value"))
        answer = self.runtime.records.answer(audit_id) if audit_id is not None else None
        if audit_id is None or answer is None:
            log.info("Slack button %s with value %.40r: no such answer", action.get("action_id"), action.get("value"))
            _ephemeral(respond)(texts.EXPIRED)
            return None
        return audit_id, answer

    def on_feedback(self, ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        """👍/👎 go into the same feedback store as the web's; a 👎 also goes to the experts (when set up)."""
        ack()
        with reported(_ephemeral(respond)):
            if (found := self._stored(action, respond)) is None:
                return
            audit_id, answer = found
            rating = 1 if action["action_id"] == FEEDBACK_UP else -1
            self.runtime.records.feedback("slack", answer.question, rating, audit_id=audit_id,
                                          user=body["user"]["id"])
            _ephemeral(respond)(texts.THANKS)
            if rating == -1 and self.escalations.enabled:
                _ephemeral(respond)(self._escalate(body, client, audit_id, answer, "doubted"))

    def _escalate(self, body: dict, client: WebClient, audit_id: int, answer: Answer, reason: str) -> str:
        """Escalate the answer a button sits under; the expert's reply goes to that message's thread."""
        message = body.get("message") or {}
        container = body.get("container") or {}
        thread = message.get("thread_ts") or message.get("ts") or container.get("message_ts")
        return self.escalations.escalate(client, audit_id, answer, body["user"]["id"], body["channel"]["id"],
                                         thread, reason)

    def on_ask_expert(self, ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        """"Spørg en fagperson": the question and the bot's answer go to the experts' channel."""
        ack()
        with reported(_ephemeral(respond)):
            if (found := self._stored(action, respond)) is not None:
                _ephemeral(respond)(self._escalate(body, client, *found, "asked"))

    def on_save_source(self, ack: Ack, body: dict, action: dict, respond: Respond) -> None:
        """"Gem som kilde" under a relayed expert reply: an admin or that expert saves it as a source."""
        ack()
        with reported(_ephemeral(respond)):
            _ephemeral(respond)(self.escalations.save_as_source(body["user"]["id"], str(action.get("value", ""))))

    def on_show_sources(self, ack: Ack, body: dict, action: dict, client: WebClient,
                        respond: Respond) -> None:
        """"Vis kilder": a modal with the full passages (the trigger id is valid for 3 seconds only)."""
        ack()
        with reported(_ephemeral(respond)):
            if (found := self._stored(action, respond)) is not None:
                client.views_open(trigger_id=body["trigger_id"], view=sources_view(found[1]))

    def on_share(self, ack: Ack, body: dict, action: dict, client: WebClient, respond: Respond) -> None:
        """"Del i kanalen": post the ephemeral `/praktik` answer publicly, then remove the ephemeral one."""
        ack()
        with reported(_ephemeral(respond)):
            if (found := self._stored(action, respond)) is None:
                return
            audit_id, answer = found
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


def build_app(runtime: Runtime, limit: RateLimit | None = None) -> App:
    """The bolt App for HTTP mode and Socket Mode; its Web API calls go to PRAKTIKBOT_SLACK_API_URL when set.
    The token is checked on the first request, not here, so a Slack outage cannot stop the web app.
    Bolt's own signature check is off: the HTTP router checks every request before it parses the body
    (Socket Mode needs none). `limit` replaces the per-user rate limit from the settings (tests)."""
    settings = runtime.settings
    app = App(token=settings.slack_bot_token, signing_secret=settings.slack_signing_secret or "",
              token_verification_enabled=False, request_verification_enabled=False,
              listener_executor=ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="slack"))
    # Set here rather than by passing client=, which bolt warns about whenever SLACK_BOT_TOKEN is in the
    # environment; bolt copies the base URL into each request's client, Socket Mode uses app.client.
    app.client.base_url = api_base_url(settings)
    SlackBot(runtime, limit).register(app)
    return app
