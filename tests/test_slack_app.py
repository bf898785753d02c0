"""The Slack bot end to end without Slack: the real bolt app behind a real HTTP server (and, for Socket
Mode, connected to a local WebSocket server), talking to a fake Slack Web API that records what it posts."""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack import slack_router, start_socket_mode_in_background, texts
from bot.slack.ratelimit import RateLimit
from bot.web.app import create_app

SECRET = "test-signing-secret"
FORM = "application/x-www-form-urlencoded"
ADMIN, USER = "UADMIN", "UUSER"
BOT_USER, BOT_ID = "UBOT", "BBOT"
SEED_TITLE = "Svar på henvendelse om virksomhedspraktik"
KLV_QUESTION = "Bruger forvaltningen KLV-listerne fra RAR?"
WAIT_SECONDS = 20


class FakeSlack:
    """Slack's Web API (and response_url webhooks) on 127.0.0.1: records every call, keeps the messages
    posted so conversations.replies/history can return them, and answers like Slack does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.messages: list[dict] = []
        self.fail_next: dict[str, str] = {}  # method → the error its next call answers with
        self.hold: dict[str, threading.Event] = {}  # method → answered only once the event is set
        self.ws_url = ""
        self._changed = threading.Condition()
        self._clock = itertools.count(int(time.time()))
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(b"")

            def do_POST(self) -> None:
                self._reply(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _reply(self, raw: bytes) -> None:
                url = urlsplit(self.path)
                payload = {k: v[0] for k, v in parse_qs(url.query).items()}
                if "json" in self.headers.get("Content-Type", ""):
                    payload.update(json.loads(raw or b"{}"))
                else:
                    payload.update({k: _maybe_json(v[0]) for k, v in parse_qs(raw.decode()).items()})
                payload["_token"] = self.headers.get("Authorization", "").removeprefix("Bearer ")
                body = json.dumps(fake.handle(url.path, payload)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_ts(self) -> str:
        return f"{next(self._clock)}.000100"

    def handle(self, path: str, payload: dict) -> dict:
        method = path.removeprefix("/api/")
        with self._changed:
            self.calls.append((method, payload))
            self._changed.notify_all()
        if method in self.hold:  # a slow Slack: the call is recorded, its answer waits
            assert self.hold[method].wait(WAIT_SECONDS)
        with self._changed:
            if method in self.fail_next:
                return {"ok": False, "error": self.fail_next.pop(method)}
            return self._answer(method, payload)

    def _answer(self, method: str, payload: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": "T1", "user": "praktikbot",
                    "team": "Test", "url": "https://test.slack.com/"}
        if method == "chat.postMessage":
            message = {"type": "message", "ts": self.next_ts(), "channel": payload["channel"], "user": BOT_USER,
                       "bot_id": BOT_ID, **{k: payload[k] for k in ("text", "blocks", "thread_ts", "metadata")
                                            if k in payload}}
            self.messages.append(message)
            return {"ok": True, "channel": payload["channel"], "ts": message["ts"], "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if method == "chat.getPermalink":
            return {"ok": True, "channel": payload["channel"],
                    "permalink": f"https://test.slack.com/archives/{payload['channel']}/p{payload['message_ts']}"}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V1", **payload["view"]}}
        if method == "conversations.replies":
            found = [m for m in self.messages if m["channel"] == payload["channel"]
                     and payload["ts"] in (m["ts"], m.get("thread_ts"))]
            return {"ok": True, "messages": self._shown(found, payload), "has_more": False}
        if method == "conversations.history":
            found = [m for m in self.messages if m["channel"] == payload["channel"]
                     and m.get("thread_ts") in (None, m["ts"]) and float(m["ts"]) >= float(payload.get("oldest", 0))]
            return {"ok": True, "messages": self._shown(found, payload)[::-1], "has_more": False}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.ws_url}
        if method.startswith("/respond/"):
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}

    @staticmethod
    def _shown(messages: list[dict], payload: dict) -> list[dict]:
        """Like Slack: oldest first, and message metadata only when include_all_metadata is asked for."""
        keep = str(payload.get("include_all_metadata")).lower() in ("1", "true")
        ordered = sorted(messages, key=lambda m: float(m["ts"]))
        return [m if keep else {k: v for k, v in m.items() if k != "metadata"} for m in ordered]

    def user_message(self, channel: str, text: str, user: str = USER, thread_ts: str | None = None) -> dict:
        """A message as a user posts it: kept in the channel history, returned as its event."""
        message = {"type": "message", "ts": self.next_ts(), "channel": channel, "user": user, "text": text}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._changed:
            self.messages.append(message)
        return dict(message)

    def response_url(self) -> str:
        return f"{self.url}/respond/{uuid.uuid4().hex}"

    def wait(self, method: str, where: Callable[[dict], bool] = lambda p: True, count: int = 1) -> list[dict]:
        """The first `count` calls of `method` matching `where`, waiting for them up to WAIT_SECONDS."""
        deadline = time.monotonic() + WAIT_SECONDS
        with self._changed:
            while True:
                found = [p for m, p in self.calls if m == method and where(p)]
                if len(found) >= count or time.monotonic() > deadline:
                    break
                self._changed.wait(timeout=0.1)
        assert len(found) >= count, f"expected {count} {method} calls, got {found!r}"
        return found[:count]

    def recorded(self, method: str, where: Callable[[dict], bool] = lambda p: True) -> list[dict]:
        with self._changed:
            return [p for m, p in self.calls if m == method and where(p)]


def _maybe_json(value: str) -> object:
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def block_texts(blocks: list[dict]) -> list[str]:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return out


def buttons(blocks: list[dict]) -> dict[str, dict]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def sources_text(blocks: list[dict]) -> str:
    return next((t for t in block_texts(blocks) if t.startswith("*Kilder*")), "")


def slack_settings(base: Settings, fake: FakeSlack, **overrides: object) -> Settings:
    return base.model_copy(update={"slack_bot_token": "xoxb-test", "slack_signing_secret": SECRET,
                                   "slack_api_url": f"{fake.url}/api", "slack_admins": f"{ADMIN}, UOTHER",
                                   "public_url": "https://praktikbot.example",
                                   "slack_user_rate_per_minute": 10_000,  # only the rate limit's tests hit it
                                   **overrides})


@contextmanager
def serving(runtime: Runtime, app: FastAPI | None = None, limit: RateLimit | None = None) -> Iterator[str]:
    """A web app (by default a minimal one with the Slack router), served by uvicorn on a free port;
    yields its base URL."""
    if app is None:
        app = FastAPI()
        router = slack_router(runtime, limit)
        assert router is not None
        app.include_router(router)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack()
    yield slack
    slack.server.shutdown()


@pytest.fixture(scope="module")
def runtime(shared_index: Settings, fake: FakeSlack) -> Runtime:
    return Runtime(slack_settings(shared_index, fake))


@pytest.fixture(scope="module")
def web(runtime: Runtime) -> Iterator[str]:
    with serving(runtime) as url:
        yield url


def channel() -> str:
    """A channel of its own for each test, so recorded calls never mix."""
    return "C" + uuid.uuid4().hex[:8].upper()


def post_signed(web: str, body: str, content_type: str, *, secret: str = SECRET, timestamp: int | str | None = None,
                headers: dict[str, str] | None = None) -> httpx.Response:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return httpx.post(f"{web}/slack/events", content=body.encode(), timeout=WAIT_SECONDS,
                      headers={"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                               "X-Slack-Signature": signature, **(headers or {})})


def send_event(web: str, event: dict, event_id: str | None = None, **signing: object) -> httpx.Response:
    """An Events API callback as Slack posts it; a retry repeats its event_id (and says so in headers)."""
    body = {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time()), "event": event}
    return post_signed(web, json.dumps(body), "application/json", **signing)


def mention(fake: FakeSlack, chan: str, question: str, thread_ts: str | None = None) -> dict:
    event = fake.user_message(chan, f"<@{BOT_USER}> {question}", thread_ts=thread_ts)
    return {**event, "type": "app_mention", "event_ts": event["ts"]}


def send_command(web: str, fake: FakeSlack, text: str, user: str = USER, chan: str = "CCMD") -> tuple[
        httpx.Response, str]:
    response_url = fake.response_url()
    body = urlencode({"token": "legacy", "team_id": "T1", "team_domain": "test", "channel_id": chan,
                      "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": "/praktik",
                      "text": text, "api_app_id": "A1", "response_url": response_url,
                      "trigger_id": "1.2.trigger"})
    return post_signed(web, body, "application/x-www-form-urlencoded"), urlsplit(response_url).path


def send_action(web: str, fake: FakeSlack, action_id: str, value: str, chan: str, user: str = USER) -> tuple[
        httpx.Response, str]:
    response_url = fake.response_url()
    payload = {"type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T1"},
               "api_app_id": "A1", "token": "legacy", "trigger_id": "1.2.trigger", "team": {"id": "T1"},
               "container": {"type": "message", "message_ts": "1.1", "channel_id": chan, "is_ephemeral": True},
               "channel": {"id": chan, "name": "general"}, "response_url": response_url,
               "actions": [{"action_id": action_id, "block_id": "praktikbot_actions", "value": value,
                            "type": "button", "action_ts": str(time.time())}]}
    body = urlencode({"payload": json.dumps(payload)})
    return post_signed(web, body, "application/x-www-form-urlencoded"), urlsplit(response_url).path


def replies_in(fake: FakeSlack, chan: str, count: int = 1) -> list[dict]:
    return fake.wait("chat.postMessage", lambda p: p["channel"] == chan, count)


# --- HTTP mode ---------------------------------------------------------------------------------------


def test_url_verification(web: str):
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    response = post_signed(web, body, "application/json")
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}


def test_mention_about_klv_gets_a_threaded_cited_reply(web: str, fake: FakeSlack):
    chan = channel()
    event = mention(fake, chan, KLV_QUESTION)
    assert send_event(web, event).status_code == 200
    reply = replies_in(fake, chan)[0]
    assert reply["thread_ts"] == event["ts"]
    assert "[1]" in reply["blocks"][0]["text"]["text"]
    assert SEED_TITLE in sources_text(reply["blocks"]) and "2019" in sources_text(reply["blocks"])
    assert {"feedback_up", "feedback_down", "show_sources", "open_web"} <= set(buttons(reply["blocks"]))
    assert reply["metadata"]["event_payload"]["question"] == KLV_QUESTION


def test_thread_follow_up_is_answered_with_the_thread_as_context(web: str, fake: FakeSlack):
    chan = channel()
    first = mention(fake, chan, KLV_QUESTION)
    send_event(web, first)
    replies_in(fake, chan)
    follow_up = fake.user_message(chan, "og hvorfor?", thread_ts=first["ts"])
    assert send_event(web, {**follow_up, "channel_type": "channel"}).status_code == 200
    reply = replies_in(fake, chan, 2)[1]
    assert reply["thread_ts"] == first["ts"]
    answer_text = reply["blocks"][0]["text"]["text"]
    assert "KLV" in answer_text and "validering" in answer_text and "[1]" in answer_text
    assert fake.recorded("conversations.replies", lambda p: p["channel"] == chan)


def test_thread_without_the_bot_is_left_alone(web: str, fake: FakeSlack):
    chan = channel()
    parent = fake.user_message(chan, "Frokost?")
    follow_up = fake.user_message(chan, "og hvorfor?", thread_ts=parent["ts"])
    send_event(web, {**follow_up, "channel_type": "channel"})
    fake.wait("conversations.replies", lambda p: p["channel"] == chan)
    time.sleep(0.3)  # the listener returns right after reading the thread
    assert not fake.recorded("chat.postMessage", lambda p: p["channel"] == chan)


def test_direct_messages_are_answered_with_the_recent_conversation(web: str, fake: FakeSlack):
    dm = "D" + uuid.uuid4().hex[:8].upper()
    first = fake.user_message(dm, KLV_QUESTION)
    send_event(web, {**first, "channel_type": "im"})
    reply = replies_in(fake, dm)[0]
    assert "thread_ts" not in reply and "[1]" in reply["blocks"][0]["text"]["text"]
    follow_up = fake.user_message(dm, "og hvorfor?")
    send_event(web, {**follow_up, "channel_type": "im"})
    assert "KLV" in replies_in(fake, dm, 2)[1]["blocks"][0]["text"]["text"]


def test_abstention_says_so_and_shows_no_sources(web: str, fake: FakeSlack):
    chan = channel()
    send_event(web, mention(fake, chan, "Hvad koster en pizza på Mars?"))
    blocks = replies_in(fake, chan)[0]["blocks"]
    assert "omformulere" in blocks[0]["text"]["text"]
    assert not sources_text(blocks) and "show_sources" not in buttons(blocks)


def test_a_bare_mention_gets_a_hint(web: str, fake: FakeSlack):
    chan = channel()
    event = mention(fake, chan, "")
    send_event(web, event)
    reply = replies_in(fake, chan)[0]
    assert (reply["text"], reply["thread_ts"]) == (texts.EMPTY_QUESTION, event["ts"])


def test_slash_command_acks_at_once_then_answers_privately_and_can_share(
        web: str, fake: FakeSlack, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    gate = threading.Event()
    ask = runtime.ask

    def slow_ask(*args: object, **kwargs: object):
        assert gate.wait(WAIT_SECONDS)
        return ask(*args, **kwargs)

    monkeypatch.setattr(runtime, "ask", slow_ask)
    chan = channel()
    started = time.monotonic()
    response, path = send_command(web, fake, KLV_QUESTION, chan=chan)
    assert response.status_code == 200 and time.monotonic() - started < 3
    assert not fake.recorded(path)  # the answer is still being worked out
    gate.set()
    private = fake.wait(path)[0]
    assert private["response_type"] == "ephemeral"
    assert "[1]" in " ".join(block_texts(private["blocks"])) and SEED_TITLE in sources_text(private["blocks"])
    share = buttons(private["blocks"])["share"]
    assert share["text"]["text"] == "Del i kanalen"

    response, share_path = send_action(web, fake, "share", share["value"], chan)
    assert response.status_code == 200
    public = replies_in(fake, chan)[0]
    assert "thread_ts" not in public and f"<@{USER}> spurgte" in block_texts(public["blocks"])[0]
    assert SEED_TITLE in sources_text(public["blocks"]) and "share" not in buttons(public["blocks"])
    assert fake.wait(share_path)[0].get("delete_original") is True


def test_share_where_the_bot_is_not_a_member_says_how_to_fix_it(web: str, fake: FakeSlack):
    chan = channel()
    _, path = send_command(web, fake, KLV_QUESTION, chan=chan)
    value = buttons(fake.wait(path)[0]["blocks"])["share"]["value"]
    fake.fail_next["chat.postMessage"] = "not_in_channel"
    _, share_path = send_action(web, fake, "share", value, chan)
    assert fake.wait(share_path)[0]["text"] == texts.NOT_IN_CHANNEL


def test_thumbs_up_is_stored_as_feedback(web: str, fake: FakeSlack, runtime: Runtime):
    chan = channel()
    send_event(web, mention(fake, chan, KLV_QUESTION))
    value = buttons(replies_in(fake, chan)[0]["blocks"])["feedback_up"]["value"]
    response, path = send_action(web, fake, "feedback_up", value, chan, user="UFEED")
    assert response.status_code == 200
    assert fake.wait(path)[0]["text"] == texts.THANKS
    stored = runtime.records.recent_feedback(limit=1)[0]
    assert (stored["channel"], stored["rating"], stored["audit_id"], stored["user"], stored["question"]) == (
        "slack", 1, int(value), "UFEED", KLV_QUESTION)


def test_show_sources_opens_a_modal_with_the_passages(web: str, fake: FakeSlack):
    chan = channel()
    send_event(web, mention(fake, chan, KLV_QUESTION))
    value = buttons(replies_in(fake, chan)[0]["blocks"])["show_sources"]["value"]
    send_action(web, fake, "show_sources", value, chan)
    opened = fake.wait("views.open", lambda p: p["view"]["blocks"] and p["trigger_id"] == "1.2.trigger")[-1]
    shown = "\n".join(block_texts(opened["view"]["blocks"]))
    assert opened["view"]["title"]["text"] == "Kilder"
    assert SEED_TITLE in shown and "ikke at gennemføre valideringen af KLV-listen" in shown


def test_help_and_status_for_everyone(web: str, fake: FakeSlack, runtime: Runtime):
    _, path = send_command(web, fake, "help")
    assert fake.wait(path)[0]["text"] == texts.HELP
    _, path = send_command(web, fake, "status")
    status = runtime.status()
    assert f"{status['documents']} dokumenter, {status['chunks']} tekstafsnit" in fake.wait(path)[0]["text"]


def test_reindex_is_refused_for_non_admins(web: str, fake: FakeSlack, runtime: Runtime):
    before = runtime.ingest_status.report
    _, path = send_command(web, fake, "reindex", user=USER)
    assert fake.wait(path)[0]["text"] == texts.REINDEX_REFUSED
    assert runtime.ingest_status.report == before


def test_reindex_by_an_admin_posts_the_report(make_index: Callable[..., Settings], fake: FakeSlack):
    settings = make_index()
    (settings.knowledge_dir / "procedures" / "ny-procedure.md").write_text(
        "---\ntitle: Ny procedure for praktikpladser\ntype: procedure\n---\n\n## Formål\n\n"
        "Denne procedure beskriver, hvordan nye praktikpladser godkendes af teamlederen.\n", encoding="utf-8")
    with serving(Runtime(slack_settings(settings, fake))) as web:
        _, path = send_command(web, fake, "reindex", user=ADMIN)
        started, report = (p["text"] for p in fake.wait(path, count=2))
    assert started == texts.REINDEX_STARTED
    assert "*Genindlæsning færdig*" in report and "1 tilføjet" in report and "0 fejlet" in report
    assert "procedures/ny-procedure.md" in report and "6 dokumenter" in report


def test_a_failure_is_one_short_message_and_the_bot_keeps_running(
        web: str, fake: FakeSlack, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    def broken(*args: object, **kwargs: object):
        raise RuntimeError("the index went away")

    monkeypatch.setattr(runtime, "ask", broken)
    chan = channel()
    send_event(web, mention(fake, chan, KLV_QUESTION))
    assert replies_in(fake, chan)[0]["text"] == texts.ERROR
    monkeypatch.undo()
    send_event(web, mention(fake, chan, KLV_QUESTION))
    assert "[1]" in replies_in(fake, chan, 2)[1]["blocks"][0]["text"]["text"]


def test_an_unusable_question_gets_the_reason(web: str, fake: FakeSlack):
    dm = "D" + uuid.uuid4().hex[:8].upper()
    send_event(web, {**fake.user_message(dm, "x" * 2100), "channel_type": "im"})
    assert replies_in(fake, dm)[0]["text"].startswith("Spørgsmålet er for langt: 2100 tegn")


def test_forged_signature_and_stale_timestamp_are_rejected(web: str, fake: FakeSlack):
    chan = channel()
    forged = send_event(web, mention(fake, chan, KLV_QUESTION), secret="not-the-secret")
    stale = send_event(web, mention(fake, chan, KLV_QUESTION), timestamp=int(time.time()) - 6 * 60)
    assert (forged.status_code, stale.status_code) == (401, 401)
    time.sleep(0.3)
    assert not fake.recorded("chat.postMessage", lambda p: p["channel"] == chan)


# --- Slack as it really behaves ----------------------------------------------------------------------


def dm_channel() -> str:
    return "D" + uuid.uuid4().hex[:8].upper()


def posted_in(fake: FakeSlack, chan: str) -> list[dict]:
    return fake.recorded("chat.postMessage", lambda p: p["channel"] == chan)


def asked(reply: dict) -> str:
    """The question an answer in Slack was given to (its message metadata)."""
    return reply["metadata"]["event_payload"]["question"]


def test_slack_escapes_and_markup_are_undone_before_asking_and_auditing(web: str, fake: FakeSlack, runtime: Runtime):
    chan = channel()
    send_event(web, mention(fake, chan, "Bruger forvaltningen KLV-listerne fra RAR &amp; jobcentret, "
                                        "<@U0ANNA|anna>? <!here> Se <#C0PRAKTIK|praktik> og "
                                        "<https://kk.dk/klv?a=1&amp;b=2|KLV &lt;2019&gt;>"))
    reply = replies_in(fake, chan)[0]
    seen = "Bruger forvaltningen KLV-listerne fra RAR & jobcentret, @anna? Se #praktik og KLV <2019>"
    assert asked(reply) == seen
    audit_id = int(buttons(reply["blocks"])["feedback_up"]["value"])
    assert runtime.records.answer(audit_id).question == seen
    assert [r["question"] for r in runtime.records.recent_audit(limit=20) if r["id"] == audit_id] == [seen]

    _, path = send_command(web, fake, "Hvad gælder for A &amp; B &lt;C&gt;?", chan=chan)
    audit_id = int(buttons(fake.wait(path)[0]["blocks"])["feedback_up"]["value"])
    assert runtime.records.answer(audit_id).question == "Hvad gælder for A & B <C>?"


def test_a_retried_event_is_acknowledged_and_answered_once(web: str, fake: FakeSlack):
    chan = channel()
    event, event_id = mention(fake, chan, KLV_QUESTION), f"Ev{uuid.uuid4().hex[:10]}"
    assert send_event(web, event, event_id=event_id).status_code == 200
    replies_in(fake, chan)
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send_event(web, event, event_id=event_id, headers=retry).status_code == 200
    assert send_event(web, event, event_id=event_id).status_code == 200  # the same id, without the headers
    later = mention(fake, chan, "Hvad er en virksomhedspraktik?")
    send_event(web, later)
    replies = replies_in(fake, chan, 2)
    assert replies[1]["thread_ts"] == later["ts"] and len(posted_in(fake, chan)) == 2


def test_a_retry_of_an_event_that_never_arrived_is_answered(web: str, fake: FakeSlack):
    chan = channel()
    event = mention(fake, chan, KLV_QUESTION)
    send_event(web, event, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert replies_in(fake, chan)[0]["thread_ts"] == event["ts"]


def test_two_replicas_given_the_same_event_answer_it_once(web: str, fake: FakeSlack, runtime: Runtime):
    chan = channel()
    event, event_id = mention(fake, chan, KLV_QUESTION), f"Ev{uuid.uuid4().hex[:10]}"
    with serving(runtime) as replica, ThreadPoolExecutor(2) as pool:
        sent = list(pool.map(lambda url: send_event(url, event, event_id=event_id), [web, replica]))
        assert [r.status_code for r in sent] == [200, 200]
        later = mention(fake, chan, "Hvad er en virksomhedspraktik?")
        send_event(replica, later)
        replies = replies_in(fake, chan, 2)
    assert {r["thread_ts"] for r in replies} == {event["ts"], later["ts"]} and len(posted_in(fake, chan)) == 2


def test_edits_deletions_and_bots_are_ignored(web: str, fake: FakeSlack):
    dm, chan = dm_channel(), channel()
    original = fake.user_message(dm, KLV_QUESTION)
    stamp = {"channel": dm, "channel_type": "im"}
    edited_ts = fake.next_ts()
    ignored = [
        {"type": "message", "subtype": "message_changed", "hidden": True, "ts": edited_ts, "event_ts": edited_ts,
         "message": {**original, "text": KLV_QUESTION + " Og RAR?", "edited": {"user": USER, "ts": edited_ts}},
         "previous_message": original, **stamp},
        {"type": "message", "subtype": "message_deleted", "hidden": True, "ts": fake.next_ts(),
         "deleted_ts": original["ts"], "previous_message": original, **stamp},
        {"type": "message", "subtype": "bot_message", "bot_id": "B0OTHER", "username": "Andenbot",
         "text": KLV_QUESTION, "ts": fake.next_ts(), **stamp},
        {"type": "message", "user": "U0OTHERBOT", "bot_id": "B0OTHER", "app_id": "A2", "text": KLV_QUESTION,
         "bot_profile": {"id": "B0OTHER", "name": "Andenbot"}, "ts": fake.next_ts(), **stamp},
        {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "app_id": "A1", "text": KLV_QUESTION,
         "ts": fake.next_ts(), **stamp},
        {"type": "message", "subtype": "me_message", "user": USER, "text": "spørger om KLV", "ts": fake.next_ts(),
         **stamp},
    ]
    ts = fake.next_ts()
    ignored.append({"type": "app_mention", "user": "U0OTHERBOT", "bot_id": "B0OTHER", "channel": chan,
                    "text": f"<@{BOT_USER}> {KLV_QUESTION}", "ts": ts, "event_ts": ts})
    assert {send_event(web, event).status_code for event in ignored} == {200}

    question = fake.user_message(dm, "Hvad er KLV-listen?")
    send_event(web, {**question, "channel_type": "im"})
    human = mention(fake, chan, KLV_QUESTION)
    send_event(web, human)
    assert asked(replies_in(fake, dm)[0]) == "Hvad er KLV-listen?"
    assert replies_in(fake, chan)[0]["thread_ts"] == human["ts"]
    assert len(posted_in(fake, dm)) == 1 and len(posted_in(fake, chan)) == 1
    assert len(fake.recorded("conversations.history", lambda p: p["channel"] == dm)) == 1


def test_in_a_thread_only_questions_are_answered_and_thanks_cost_no_api_call(web: str, fake: FakeSlack):
    chan = channel()
    first = mention(fake, chan, KLV_QUESTION)
    send_event(web, first)
    replies_in(fake, chan)
    for text in ("tak!", "Tusind tak :pray:", "thanks 👍", "ok", "Jeg ringer til jobcentret i morgen."):
        send_event(web, {**fake.user_message(chan, text, thread_ts=first["ts"]), "channel_type": "channel"})
    follow_up = fake.user_message(chan, "og hvad med ledighedsydelse", thread_ts=first["ts"])
    send_event(web, {**follow_up, "channel_type": "channel"})
    reply = replies_in(fake, chan, 2)[1]
    assert asked(reply) == "og hvad med ledighedsydelse" and reply["thread_ts"] == first["ts"]
    assert len(posted_in(fake, chan)) == 2
    assert len(fake.recorded("conversations.replies", lambda p: p["channel"] == chan)) == 1  # the follow-up's


def test_a_slow_slack_call_does_not_hold_up_the_web_app(fake: FakeSlack, runtime: Runtime):
    chan = channel()
    checks = len(fake.recorded("auth.test"))
    fake.hold["auth.test"] = gate = threading.Event()  # a new app's first request waits for auth.test
    try:
        with serving(runtime, create_app(runtime)) as web, ThreadPoolExecutor(1) as pool:
            delivered = pool.submit(send_event, web, mention(fake, chan, KLV_QUESTION))
            fake.wait("auth.test", count=checks + 1)
            health = httpx.get(f"{web}/healthz", timeout=WAIT_SECONDS)  # while that request waits on Slack
            assert health.status_code == 200 and not delivered.done()
            gate.set()
            assert delivered.result().status_code == 200
            assert "[1]" in replies_in(fake, chan)[0]["blocks"][0]["text"]["text"]
    finally:
        del fake.hold["auth.test"]
        gate.set()


def _refused_bodies(fake: FakeSlack, chan: str) -> list[tuple[str, str]]:
    """Signed bodies Slack never sends, each one that a lenient reader would have answered in `chan`."""
    callback = json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                           "event_id": "EvBad", "event_time": int(time.time()),
                           "event": mention(fake, chan, KLV_QUESTION)})
    click = {"type": "block_actions", "user": {"id": USER}, "team": {"id": "T1"}, "api_app_id": "A1",
             "channel": {"id": chan}, "response_url": fake.response_url(), "trigger_id": "1.2.trigger",
             "actions": [{"action_id": "share", "value": "1", "type": "button"}]}
    return [(f"[{callback}]", "application/json"), (callback[:-1], "application/json"),
            (f"[{callback}]", "application/json; charset=utf-8"), ("ja tak", "application/json"),
            ("payload=" + quote(json.dumps([click])), FORM), ("payload=" + quote(json.dumps(click)[:-1]), FORM)]


def test_signed_bodies_that_are_not_slacks_get_400_and_nothing_is_posted(web: str, fake: FakeSlack):
    chan = channel()
    for body, content_type in _refused_bodies(fake, chan):
        response = post_signed(web, body, content_type)
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith("ugyldig Slack-forespørgsel (invalid Slack request)")
    assert not [call for call in fake.calls if chan in json.dumps(call[1])]


def test_a_timestamp_that_is_no_number_gets_401(web: str, fake: FakeSlack):
    chan = channel()
    body = json.dumps({"type": "event_callback", "event_id": "EvAbc", "event": mention(fake, chan, KLV_QUESTION)})
    for secret in (SECRET, "not-the-secret"):
        response = post_signed(web, body, "application/json", secret=secret, timestamp="abc")
        assert response.status_code == 401 and "signatur" in response.json()["detail"]
    unsigned = httpx.post(f"{web}/slack/events", content=body, timeout=WAIT_SECONDS,
                          headers={"Content-Type": "application/json", "X-Slack-Request-Timestamp": "abc"})
    assert unsigned.status_code == 401 and unsigned.json()["detail"]
    assert not [call for call in fake.calls if chan in json.dumps(call[1])]


def test_slacks_ssl_check_of_the_command_url_is_answered(web: str):
    response = httpx.post(f"{web}/slack/events", content="ssl_check=1&token=legacy", timeout=WAIT_SECONDS,
                          headers={"Content-Type": FORM})
    assert response.status_code == 200 and not response.content


@pytest.mark.parametrize("value", ["abc", "-1", str(2**63), str(2**63 - 1), "", "1e3"])
def test_a_button_whose_value_is_no_stored_answer_says_it_has_expired(
        web: str, fake: FakeSlack, runtime: Runtime, value: str):
    chan, user = channel(), "U" + uuid.uuid4().hex[:8].upper()
    for action_id in ("feedback_up", "feedback_down", "show_sources", "share"):
        response, path = send_action(web, fake, action_id, value, chan, user=user)
        assert response.status_code == 200
        assert fake.wait(path)[0]["text"] == texts.EXPIRED
    assert not [f for f in runtime.records.recent_feedback(limit=200) if f["user"] == user]
    assert not posted_in(fake, chan)


def test_over_the_rate_limit_a_user_is_told_once_and_not_answered(fake: FakeSlack, runtime: Runtime):
    dm, calm_dm, tag = dm_channel(), dm_channel(), uuid.uuid4().hex[:6]
    questions = [f"Hvad er KLV-listen {tag} {n}?" for n in range(4)]
    with serving(runtime, limit=RateLimit(2, clock=lambda: 0.0)) as web:  # time stands still: one window
        for question in questions:
            send_event(web, {**fake.user_message(dm, question, user="U0EAGER"), "channel_type": "im"})
        told = fake.wait("chat.postEphemeral", lambda p: p["channel"] == dm)[0]
        assert (told["user"], told["text"]) == ("U0EAGER", texts.RATE_LIMITED)
        answered = {asked(reply) for reply in replies_in(fake, dm, 2)}
        send_event(web, {**fake.user_message(calm_dm, KLV_QUESTION, user="U0CALM"), "channel_type": "im"})
        assert asked(replies_in(fake, calm_dm)[0]) == KLV_QUESTION  # another user is not held up

        for _ in range(2):  # one after the other: /praktik counts against the same limit
            _, path = send_command(web, fake, KLV_QUESTION, user="U0CMD")
            assert "[1]" in " ".join(block_texts(fake.wait(path)[0]["blocks"]))
        _, path = send_command(web, fake, KLV_QUESTION, user="U0CMD")
        assert fake.wait(path)[0]["text"] == texts.RATE_LIMITED
    assert len(answered) == 2 and len(posted_in(fake, dm)) == 2
    assert len(fake.recorded("chat.postEphemeral", lambda p: p["channel"] == dm)) == 1
    audited = {row["question"] for row in runtime.records.recent_audit(limit=50)}
    assert audited & set(questions) == answered


# --- Socket Mode -------------------------------------------------------------------------------------


def test_socket_mode_runs_inside_the_web_server_and_answers_a_mention(shared_index: Settings, fake: FakeSlack):
    chan = channel()
    event = mention(fake, chan, KLV_QUESTION)
    envelope = {"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
                "retry_attempt": 0, "retry_reason": "",
                "payload": {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                            "event_id": "EvSocket", "event_time": int(time.time()), "event": event}}
    received: queue.Queue[dict] = queue.Queue()
    sent = threading.Event()

    def session(ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}))
        if not sent.is_set():
            sent.set()
            ws.send(json.dumps(envelope))
        with suppress(ConnectionClosed):  # the client drops the connection when the test closes it
            for message in ws:
                received.put(json.loads(message))

    with serve(session, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        fake.ws_url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link/?ticket=t"
        settings = slack_settings(shared_index, fake, slack_signing_secret=None, slack_app_token="xapp-test")
        try:
            # `praktikbot serve` with SLACK_APP_TOKEN: the web app's lifespan connects Socket Mode
            with TestClient(create_app(Runtime(settings))) as web:
                assert received.get(timeout=WAIT_SECONDS)["envelope_id"] == "env-1"
                reply = replies_in(fake, chan)[0]
                assert web.get("/healthz").json()["status"] == "ok"
                assert 'praktikbot_answers_total{channel="slack"} 1.0' in web.get("/metrics").text
        finally:
            server.shutdown()
    assert fake.recorded("apps.connections.open", lambda p: p["_token"] == "xapp-test")
    assert reply["thread_ts"] == event["ts"] and SEED_TITLE in sources_text(reply["blocks"])


def test_nothing_is_started_without_credentials(shared_index: Settings):
    bare = Runtime(shared_index.model_copy(update={"slack_bot_token": None, "slack_signing_secret": None,
                                                    "slack_app_token": None}))
    assert slack_router(bare) is None and start_socket_mode_in_background(bare) is None


def test_a_channel_limited_to_public_sources_never_quotes_an_internal_one(shared_index: Settings, fake: FakeSlack):
    """PRAKTIKBOT_SLACK_CHANNEL_AUDIENCES: e.g. the press team's channel sees only public documents."""
    press, team = channel(), channel()
    runtime = Runtime(slack_settings(shared_index, fake, slack_channel_audiences=f"{press}=public"))
    internal = {d.title for d in runtime.documents() if d.audience == "internal"}
    with serving(runtime) as url:
        for chan in (press, team):
            assert send_event(url, mention(fake, chan, KLV_QUESTION)).status_code == 200
        press_reply, team_reply = replies_in(fake, press)[0], replies_in(fake, team)[0]
    assert sources_text(press_reply["blocks"]) and not any(t in sources_text(press_reply["blocks"]) for t in internal)
    assert any(title in sources_text(team_reply["blocks"]) for title in internal)
