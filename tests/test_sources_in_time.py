"""Sources in time, as a user meets them: dates that are dates, versions that supersede each other,
warnings about rule changes after a quoted source, and questions about the rules of another date."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from fastapi.testclient import TestClient

from bot.currency import as_of
from bot.runtime import Runtime
from bot.web.app import create_app
from ingest.dates import DateError, parse_date
from ingest.documents import TIMELINE_FILE
from ingest.generations import load_snapshot
from ingest.sync import sync
from tests.conftest import SEED_LETTER

KLV_QUESTION = "Hvorfor validerer forvaltningen ikke KLV-listerne?"
TODAY = dt.date(2026, 11, 27)


def _warned_acts(answer, source: str) -> list[str]:
    return [w.act for w in answer.warnings if w.source == source]


def test_klv_validation_cites_the_2019_letter_with_the_rule_changes_since(shared_index):
    runtime = Runtime(shared_index)
    answer, _ = runtime.ask(KLV_QUESTION)
    assert SEED_LETTER in {c.source for c in answer.citations}
    acts = _warned_acts(answer, SEED_LETTER)
    assert any("548 af 7/5 2019" in act for act in acts), "the 2020 act"
    assert any("1656 af 30/12 2024" in act for act in acts), "the 2024 reorganisation of RAR"
    first = next(w for w in answer.warnings if "548" in w.act)
    assert first.message.startswith("Kilden er fra 2019. Reglerne blev ændret 1. januar 2020 (lov nr. 548 af 7/5 2019)")
    assert (first.date, first.source_date, first.kind) == ("2020-01-01", "2019", "rule-change")

    then, _ = runtime.ask(KLV_QUESTION, as_of="2019-06-01")
    assert SEED_LETTER in {c.source for c in then.citations}
    assert not [w for w in then.warnings if w.date >= "2020"], "no warning about what came after the date asked"
    assert then.as_of == "2019-06-01" and then.as_of_given == "request"
    assert "pr. 1. juni 2019" in then.answer


def test_a_source_newer_than_every_relevant_change_carries_no_warning(shared_index):
    answer, _ = Runtime(shared_index).ask("Hvem skal underskrive som medarbejderrepræsentant?")
    newer = {c.source for c in answer.citations} - {SEED_LETTER}
    assert newer, "the 2024 guideline answers too"
    assert not [w for w in answer.warnings if w.source in newer]


OLD_GUIDE = """---
title: Retningslinje for booking af Havnesalen
type: guideline
audience: public
valid_from: 2022-01-01
---

# Booking af Havnesalen

Havnesalen bookes hos teamleder for virksomhedsservice senest tre hverdage før mødet.
"""
NEW_GUIDE = """---
title: Retningslinje for booking af Havnesalen (revideret)
type: guideline
audience: public
valid_from: "1.3.2024"
supersedes: guidelines/havnesalen-2022.md
---

# Booking af Havnesalen

Havnesalen bookes i lokalebookingsystemet senest fem hverdage før mødet.
"""
BOOKING = "Hvor mange hverdage før mødet skal Havnesalen bookes?"


def test_a_superseded_version_is_never_quoted_as_current_but_answers_for_its_own_time(make_index):
    settings = make_index()
    (settings.knowledge_dir / "guidelines" / "havnesalen-2022.md").write_text(OLD_GUIDE, encoding="utf-8")
    (settings.knowledge_dir / "guidelines" / "havnesalen-2024.md").write_text(NEW_GUIDE, encoding="utf-8")
    report = sync(settings)
    assert not report.failed, report.failed
    runtime = Runtime(settings)

    now, _ = runtime.ask(BOOKING)
    assert [c.source for c in now.citations][:1] == ["guidelines/havnesalen-2024.md"]
    assert "guidelines/havnesalen-2022.md" not in {c.source for c in now.citations}
    assert now.as_of == dt.date.today().isoformat() and now.as_of_given == "today"

    for then in (runtime.ask(BOOKING, as_of="2023-06-01")[0],
                 runtime.ask("Hvad gjaldt i 2023: hvor mange hverdage før mødet skulle Havnesalen bookes?")[0]):
        assert [c.source for c in then.citations][:1] == ["guidelines/havnesalen-2022.md"]
        assert "guidelines/havnesalen-2024.md" not in {c.source for c in then.citations}
        assert "tre hverdage" in then.answer

    listed = {d["source"]: d for d in TestClient(create_app(runtime)).get("/api/documents").json()["documents"]}
    old, new = listed["guidelines/havnesalen-2022.md"], listed["guidelines/havnesalen-2024.md"]
    assert old["superseded_by"] == new["doc_id"] and new["replaces"] == [old["doc_id"]]
    assert (new["valid_from"], old["in_force"], new["in_force"]) == ("2024-03-01", False, True)


def test_an_unparseable_date_fails_that_document_and_the_rest_are_ingested(make_index):
    settings = make_index()
    (settings.knowledge_dir / "procedures" / "ny.md").write_text(
        "---\ntitle: Ny procedure\nvalid_from: 31. februar 2024\n---\n\n# Ny\n\nTekst om praktik.\n", encoding="utf-8")
    (settings.knowledge_dir / "procedures" / "anden.md").write_text(
        "---\ntitle: Anden procedure\nvalid_from: 1. marts 2024\nvalid_to: 2025-12-31\n---\n\n# Anden\n\nTekst.\n",
        encoding="utf-8")
    report = sync(settings)
    assert [f["path"] for f in report.failed] == ["procedures/ny.md"]
    assert "valid_from" in report.failed[0]["error"] and "31. februar 2024" in report.failed[0]["error"]
    assert report.added == ["procedures/anden.md"]
    added = next(d for d in load_snapshot(settings).documents.values() if d.source == "procedures/anden.md")
    assert (added.valid_from, added.valid_to) == ("2024-03-01", "2025-12-31")


def test_a_timeline_that_does_not_validate_fails_with_the_reason_and_the_previous_one_stays(make_index):
    settings = make_index()
    before = load_snapshot(settings).timeline
    assert before, "the demo corpus has a timeline"
    (settings.knowledge_dir / TIMELINE_FILE).write_text(
        "- date: 1.1.2020\n  act: lov nr. 548 af 7/5 2019\n  summary: Ny lov.\n  topics: []\n", encoding="utf-8")
    report = sync(settings)
    assert [f["path"] for f in report.failed] == [TIMELINE_FILE]
    assert "topics" in report.failed[0]["error"] and "1" in report.failed[0]["error"]
    assert load_snapshot(settings).timeline == before

    (settings.knowledge_dir / TIMELINE_FILE).write_text(
        "- date: 1. januar 2020\n  act: lov nr. 548 af 7/5 2019\n  summary: Ny lov.\n  topics: [KLV]\n",
        encoding="utf-8")
    report = sync(settings)
    assert not report.failed and report.generation is not None
    assert [(c.date, c.topics) for c in load_snapshot(settings).timeline] == [("2020-01-01", ("KLV",))]


@pytest.mark.parametrize(("question", "requested", "expected", "given"), [
    ("Hvad gjaldt i 2019 for KLV-listerne?", None, dt.date(2019, 12, 31), "question"),
    ("What applied before 2020?", None, dt.date(2019, 12, 31), "question"),
    ("Hvilke regler gjaldt før 1. januar 2020?", None, dt.date(2019, 12, 31), "question"),
    ("Hvad var reglerne pr. 1.6.2019?", None, dt.date(2019, 6, 1), "question"),
    ("Hvad fandt Ankestyrelsens undersøgelse fra 2014?", None, TODAY, "today"),
    ("Hvad er reglerne nu?", None, TODAY, "today"),
    ("Hvad er reglerne?", "1. juni 2019", dt.date(2019, 6, 1), "request"),
    ("Hvad er reglerne?", "2019", dt.date(2019, 12, 31), "request"),
])
def test_the_date_an_answer_is_for(question: str, requested: str | None, expected: dt.date, given: str):
    found = as_of(question, requested, today=TODAY)
    assert (found.date, found.given) == (expected, given)


@pytest.mark.parametrize(("question", "looked_up"), [
    ("Hvad gjaldt i 2023: hvor mange hverdage skulle salen bookes?", "hvor mange hverdage skulle salen bookes?"),
    ("What applied before 2020: who signs?", "who signs?"),
    ("Hvad gjaldt i 2019 for KLV-listerne?", "Hvad gjaldt for KLV-listerne?"),
    ("Hvilke regler gjaldt før 1. januar 2020?", "Hvilke regler gjaldt?"),
])
def test_what_is_looked_up_is_the_question_without_its_time(question: str, looked_up: str):
    assert as_of(question, None, today=TODAY).without_date(question) == looked_up


@pytest.mark.parametrize("text", ["2020-01-01", "1.1.2020", "1. januar 2020", "1/1 2020"])
def test_dates_in_the_usual_danish_and_iso_forms(text: str):
    assert parse_date(text) == "2020-01-01"


def test_a_bad_as_of_on_the_api_is_a_clear_422(shared_index):
    client = TestClient(create_app(Runtime(shared_index)))
    response = client.post("/api/ask", json={"question": KLV_QUESTION, "as_of": "i går"})
    assert response.status_code == 422 and "dato" in response.json()["detail"]


def test_an_impossible_date_is_refused():
    with pytest.raises(DateError):
        parse_date("31.2.2020")


def test_admins_edit_the_timeline_through_the_api_and_a_job_puts_it_in_service(make_index):
    settings = make_index(admin_token="tidslinje-token")
    client = TestClient(create_app(Runtime(settings)))
    admin = {"Authorization": "Bearer tidslinje-token"}
    shown = client.get("/api/admin/timeline", headers=admin).json()
    assert "548 af 7/5 2019" in shown["yaml"] and shown["entries"] and shown["error"] is None

    refused = client.put("/api/admin/timeline", headers=admin,
                         json={"yaml": "- date: i morgen\n  act: x\n  summary: y\n  topics: [KLV]\n"})
    assert refused.status_code == 422 and "ændring 1" in refused.json()["detail"]
    assert (settings.knowledge_dir / TIMELINE_FILE).read_text(encoding="utf-8") == shown["yaml"], "nothing written"

    edited = shown["yaml"] + ("\n- date: 1. februar 2026\n  act: bek. nr. 1 af 1/1 2026 (test)\n"
                              "  summary: En ny regel om KLV-lister.\n  topics: [KLV]\n")
    saved = client.put("/api/admin/timeline", headers=admin, json={"yaml": edited})
    assert saved.status_code == 202, saved.text
    job = client.get(f"/api/admin/jobs/{saved.json()['job']['id']}", headers=admin).json()
    for _ in range(600):
        if job["state"] in ("done", "failed"):
            break
        threading.Event().wait(0.1)
        job = client.get(f"/api/admin/jobs/{job['id']}", headers=admin).json()
    assert job["state"] == "done", job
    acts = [entry["act"] for entry in client.get("/api/documents").json()["timeline"]]
    assert "bek. nr. 1 af 1/1 2026 (test)" in acts
    answer = client.post("/api/ask", json={"question": KLV_QUESTION}).json()
    assert any(w["act"] == "bek. nr. 1 af 1/1 2026 (test)" for w in answer["warnings"])
