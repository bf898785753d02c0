"""Sources in time in reply drafts: the case worker gets notes (rule changes since a quoted source was
written, an answer for another date) in the draft's JSON and after the letter in the .docx; the letter
itself never carries them."""

from __future__ import annotations

import io

import pytest
from docx import Document
from fastapi.testclient import TestClient

from bot.draft import ANSWER_LABEL, NOTES_TITLE, SENDER
from bot.runtime import Runtime
from bot.web.app import create_app

KLV_WHY = "Hvorfor validerer forvaltningen ikke KLV-listerne?"
ACT_2020 = "lov nr. 548 af 7/5 2019"
UNANSWERABLE = "Hvad koster en parkeringstilladelse i Indre By?"
INQUIRY = f"Kære forvaltning\n\n1. {KLV_WHY}\n2. {UNANSWERABLE}\n\nMvh\nAndreas Keil"


@pytest.fixture(scope="module")
def client(shared_index) -> TestClient:
    return TestClient(create_app(Runtime(shared_index)))


def test_the_klv_question_gets_notes_for_the_case_worker_that_stay_out_of_the_letter(client: TestClient):
    draft = client.post("/api/draft", json={"inquiry": INQUIRY}).json()
    first, second = draft["items"]
    assert any(ACT_2020 in note for note in first["notes"]) and not second["notes"]
    assert [n for n in draft["notes"] if ACT_2020 in n][0].startswith("Spørgsmål 1: ")
    assert ACT_2020 not in draft["letter"] and "Kilden er fra" not in draft["letter"]

    response = client.post("/api/draft.docx", json=draft)
    assert response.status_code == 200
    document = Document(io.BytesIO(response.content))
    texts = [p.text for p in document.paragraphs]
    notes_at = texts.index(NOTES_TITLE)
    letter, notes = texts[:notes_at], texts[notes_at + 1:]
    assert letter[-1] == SENDER and ANSWER_LABEL in letter, "the notes come after the whole letter"
    assert ACT_2020 not in "\n".join(letter)
    assert notes == draft["notes"]
    assert document.paragraphs[notes_at].style.name.startswith("Heading")
    assert document.paragraphs[notes_at].paragraph_format.page_break_before, "printed apart from the letter"


def test_a_draft_for_another_date_says_so_in_the_notes_and_warns_of_nothing_later(client: TestClient):
    draft = client.post("/api/draft", json={"inquiry": f"1. {KLV_WHY}", "as_of": "1.6.2019"}).json()
    item = draft["items"][0]
    assert item["answer"]["citations"], "answered from the sources in force then"
    assert draft["notes"] == ["Spørgsmål 1: Udkastet er besvaret efter reglerne pr. 1. juni 2019 – ikke efter de "
                              "gældende regler (answered for the rules as of 2019-06-01, as requested)."]
    answer_text = draft["letter"].split(ANSWER_LABEL + "\n", 1)[1]
    assert answer_text.startswith("Svaret gælder reglerne pr. 1. juni 2019.\n\n"), "the recipient sees the date"
    assert "Ifølge kilderne" not in draft["letter"]


def test_a_draft_without_notes_has_no_notes_section(client: TestClient):
    draft = client.post("/api/draft", json={"inquiry": f"1. {UNANSWERABLE}"}).json()
    assert draft["notes"] == []
    texts = [p.text for p in Document(io.BytesIO(client.post("/api/draft.docx", json=draft).content)).paragraphs]
    assert NOTES_TITLE not in texts and texts[-1] == SENDER
