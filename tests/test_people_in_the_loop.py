"""People in the loop, as staff and experts meet it in Slack (a fake Slack Web API): a declined question goes
to the experts' channel, an expert's reply reaches the asker's thread, "Gem som kilde" turns it into a
cited source — once, masked, and only for an admin or the expert who replied."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.runtime import DONE, FAILED, Runtime
from bot.settings import Settings
from bot.slack import escalate
from tests.test_slack_app import (
    ADMIN,
    FakeSlack,
    buttons,
    mention,
    replies_in,
    send_action,
    send_event,
    serving,
    slack_settings,
)

EXPERTS = "CEXPERTS"
EXPERT = "UEXPERT"
QUESTION = "Hvornår holder jobcentrets kantine åbent for praktikanter?"
REPLY = ("Kantinen i jobcentret har åbent for praktikanter fra kl. 11 til 13 på hverdage. "
         "Spørgsmål om borgeren med CPR 010203-1234 kan sendes til kantine@example.dk eller 33 66 33 66.")


@pytest.fixture
def site(make_index, fake: FakeSlack) -> Iterator[tuple[Runtime, str]]:
    settings: Settings = make_index()
    runtime = Runtime(slack_settings(settings, fake, slack_expert_channel=EXPERTS))
    with serving(runtime) as url:
        yield runtime, url


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack()
    yield slack
    slack.server.shutdown()


def _wait_for_jobs(runtime: Runtime) -> None:
    deadline = time.monotonic() + 300
    while any(job.state not in (DONE, FAILED) for job in runtime.jobs()):
        assert time.monotonic() < deadline, "the source job did not finish"
        time.sleep(0.2)
    assert all(job.state == DONE for job in runtime.jobs()), [job.as_dict() for job in runtime.jobs()]


def test_a_declined_question_is_answered_by_an_expert_and_saved_as_a_cited_source(site, fake: FakeSlack):
    runtime, url = site
    asker_channel = "CSTAFF"
    send_event(url, mention(fake, asker_channel, QUESTION))
    declined = replies_in(fake, asker_channel)[0]
    assert "Spørg en fagperson" in str(declined["blocks"]), "a person can be asked from any answer"
    told = fake.wait("chat.postMessage", lambda p: p["channel"] == asker_channel and p["text"] == escalate.ESCALATED)
    asker_thread = told[0]["thread_ts"]

    posted = fake.wait("chat.postMessage", lambda p: p["channel"] == EXPERTS)[0]
    assert QUESTION in str(posted["blocks"]) and "afstod" in str(posted["blocks"])
    assert f"archives/{asker_channel}/p{asker_thread}" in str(posted["blocks"]), "a link to the asker's thread"
    expert_ts = next(m["ts"] for m in fake.messages if m["channel"] == EXPERTS and not m.get("thread_ts"))

    # the expert answers in the thread: the asker gets it, marked as a person's answer
    send_event(url, fake.user_message(EXPERTS, REPLY, user=EXPERT, thread_ts=expert_ts))
    relayed = fake.wait("chat.postMessage", lambda p: p["channel"] == asker_channel
                        and p.get("thread_ts") == asker_thread and "Svar fra en fagperson" in p["text"])[0]
    assert "kl. 11 til 13" in relayed["text"] and "Svar fra en fagperson" in relayed["text"]
    assert "010203-1234" not in relayed["text"], "personal data is masked before it is shown"
    offer = fake.wait("chat.postMessage", lambda p: p["channel"] == EXPERTS and p.get("thread_ts") == expert_ts
                      and escalate.RELAYED in p["text"])[0]
    value = buttons(offer["blocks"])["save_as_source"]["value"]

    # someone who is neither an admin nor the expert is refused, and nothing is written
    folder = runtime.settings.knowledge_dir / "inquiry-answers"
    before = set(folder.iterdir())
    _, path = send_action(url, fake, "save_as_source", value, EXPERTS, user="USTRANGER")
    assert fake.wait(path)[0]["text"] == escalate.SAVE_REFUSED
    assert set(folder.iterdir()) == before and not runtime.jobs()

    # the expert saves it; saving again (an admin) updates the same document
    for user in (EXPERT, ADMIN):
        _, path = send_action(url, fake, "save_as_source", value, EXPERTS, user=user)
        assert "gemmes som kilde" in fake.wait(path)[0]["text"]
        _wait_for_jobs(runtime)
    added = set(folder.iterdir()) - before
    assert len(added) == 1, added
    saved = added.pop().read_text(encoding="utf-8")
    assert "audience: internal" in saved and "author_role: fagperson" in saved and "kl. 11 til 13" in saved
    assert not any(secret in saved for secret in ("010203-1234", "kantine@example.dk", "33 66 33 66", EXPERT))

    # the next person asking is answered from it, with a citation
    answer, _ = runtime.ask(QUESTION)
    assert not answer.abstained
    assert any(c.source.startswith("inquiry-answers/fagperson-svar-") for c in answer.citations)
    assert "010203-1234" not in answer.model_dump_json()


def test_each_answer_is_escalated_once_and_each_user_only_so_often(make_index, fake: FakeSlack):
    settings = slack_settings(make_index(), fake, slack_expert_channel=EXPERTS, slack_escalations_per_minute=2)
    runtime = Runtime(settings)
    with serving(runtime) as url:
        audit_ids = [runtime.ask(f"{QUESTION} ({n})")[1] for n in range(3)]

        def ask_expert(audit_id: int) -> str:
            _, path = send_action(url, fake, "ask_expert", str(audit_id), "CSTAFF")
            return fake.wait(path)[0]["text"]

        assert ask_expert(audit_ids[0]) == escalate.ESCALATED
        assert ask_expert(audit_ids[0]) == escalate.ALREADY, "the same answer goes to the experts once"
        assert ask_expert(audit_ids[1]) == escalate.ESCALATED
        assert ask_expert(audit_ids[2]) == escalate.TOO_MANY, "over the user's limit a minute"
    assert len(fake.recorded("chat.postMessage", lambda p: p["channel"] == EXPERTS)) == 2
    assert len(runtime.records.escalations()) == 2
