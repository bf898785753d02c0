"""People in the loop, as staff and experts meet it in Slack (a fake Slack Web API): a declined question goes
to the experts' channel, an expert's reply reaches the asker's thread, "Gem som kilde" turns it into a
cited source — once, masked, and only for an admin or the expert who replied."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.records import Records
from bot.runtime import DONE, FAILED, Runtime
from bot.settings import Settings
from bot.slack import escalate
from bot.web.app import create_app
from ingest.generations import load_snapshot
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


# --- the inquiry team's approved letters, and what admins follow up on -----------------------------

TOKEN = "loop-token"
ADMIN_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
INQUIRY = ("Kære forvaltning\n\n1. Hvornår holder jobcentrets kantine åbent for praktikanter?\n"
           "2. Bruger forvaltningen KLV-listerne fra RAR?\n\nMed venlig hilsen\nJens Hansen\n"
           "Nørregade 1, 1165 København K")


def test_an_approved_draft_saved_as_a_source_answers_its_questions_with_citations(make_index):
    settings = make_index(admin_token=TOKEN)
    runtime = Runtime(settings)
    client = TestClient(create_app(runtime))
    draft = client.post("/api/draft", json={"inquiry": INQUIRY, "include_internal": True}).json()
    assert draft["items"][0]["answer"]["abstained"], "the sources don't know the canteen"
    draft["items"][0]["edited"] = "Kantinen har åbent for praktikanter fra kl. 11 til 13 på hverdage."
    saved = client.post("/api/drafts", json={"draft": draft})
    assert saved.status_code == 201 and saved.json()["status"] == "draft"
    draft_id = saved.json()["id"]
    assert "kl. 11 til 13" in saved.json()["draft"]["letter"], "the letter uses the team's wording"

    assert client.post(f"/api/drafts/{draft_id}/source", headers=ADMIN_HEADERS).status_code == 409, "approve first"
    assert client.post(f"/api/drafts/{draft_id}/approve", json={"role": "fuldmægtig"}).status_code in (401, 403)
    approved = client.post(f"/api/drafts/{draft_id}/approve", headers=ADMIN_HEADERS, json={"role": "fuldmægtig"})
    assert (approved.json()["status"], approved.json()["approved_role"]) == ("approved", "fuldmægtig")
    listed = client.get("/api/drafts").json()["drafts"]
    assert [(d["id"], d["status"], d["approved_role"]) for d in listed] == [(draft_id, "approved", "fuldmægtig")]

    for _ in range(2):  # saving again updates the one document
        response = client.post(f"/api/drafts/{draft_id}/source", headers=ADMIN_HEADERS)
        assert response.status_code == 202, response.text
        _wait_for_jobs(runtime)
    source = response.json()["source"]
    written = [p for p in (settings.knowledge_dir / "inquiry-answers").iterdir() if p.name.startswith("godkendt-svar")]
    assert [p.relative_to(settings.knowledge_dir).as_posix() for p in written] == [source]
    text = written[0].read_text(encoding="utf-8")
    assert "Jens Hansen" not in text and "Nørregade" not in text, "the inquirer's name and address are removed"

    sections = {c.section for c in load_snapshot(settings).chunks.values() if c.source == source}
    assert {"Spørgsmål 1", "Spørgsmål 2"} <= sections, "split into its questions and answers"
    answer, _ = runtime.ask("Hvornår holder jobcentrets kantine åbent for praktikanter?")
    assert not answer.abstained and source in {c.source for c in answer.citations}


def test_follow_up_groups_declined_questions_and_lists_doubted_answers(make_index):
    settings = make_index(admin_token=TOKEN)
    client = TestClient(create_app(Runtime(settings)))
    for question in ("Hvordan bliver vejret i morgen?", "Hvad siger vejrudsigten for i morgen?",
                     "Hvem vandt fodboldkampen i går?"):
        assert client.post("/api/ask", json={"question": question}).json()["abstained"]
    doubted = client.post("/api/ask", json={"question": "Bruger forvaltningen KLV-listerne fra RAR?"})
    client.post("/api/feedback", json={"question": "Bruger forvaltningen KLV-listerne fra RAR?", "rating": -1,
                                       "comment": "Mangler årstallet", "audit_id": int(doubted.headers["X-Audit-Id"])})
    assert client.get("/api/admin/followup").status_code in (401, 403)
    shown = client.get("/api/admin/followup", headers=ADMIN_HEADERS).json()
    assert shown["gaps"][0]["count"] == 2 and all("vejr" in q for q in shown["gaps"][0]["questions"])
    assert [g["count"] for g in shown["gaps"]] == [2, 1]
    assert shown["doubted"][0]["comment"] == "Mangler årstallet"
    assert shown["metrics"]["declined"] == 3 and shown["metrics"]["declined_share"] == 0.75
    record = client.get(f"/api/admin/audit/{shown['gaps'][0]['audit_ids'][0]}", headers=ADMIN_HEADERS).json()
    assert record["answer"]["abstained"] and "vejr" in record["answer"]["question"]
    assert "praktikbot_declined_share 0.75" in client.get("/metrics").text


def test_the_audit_retention_also_purges_escalations_and_saved_drafts(tmp_path):
    records = Records(tmp_path)
    records.escalate(1, QUESTION, "declined", "UASKER", "CSTAFF", "1.1")
    records.save_draft("d1", '{"greeting": "Kære Jens Hansen", "items": []}')
    time.sleep(0.01)
    assert records.purge(0)[2:] == (1, 1)
    assert records.escalations() == [] and records.drafts() == []


def test_a_source_job_writes_only_documents_inside_the_knowledge_dir(make_index):
    settings = make_index()
    runtime = Runtime(settings)
    outside = settings.knowledge_dir.parent / "escaped.md"
    for path in ("../escaped.md", "README.md", "inquiry-answers/.hidden.md", ""):
        job = runtime.save_source(path, "# Hej\n\nTekst.\n")
        job.finished.wait(120)
        assert job.state == FAILED and "ugyldig sti" in job.error, (path, job.as_dict())
    assert not outside.exists()
    assert "Hej" not in (settings.knowledge_dir / "README.md").read_text(encoding="utf-8")
