"""Who a source is for: public sources may be quoted to the press, internal ones only to staff."""

from __future__ import annotations

from bot.answer import AnswerService
from ingest.reader import IndexReader
from ingest.sync import sync

PROCEDURE_QUESTIONS = [
    "Hvordan kontrollerer sagsbehandleren forholdstalskravet, når KLV-listen ikke valideres?",
    "How are sample checks of work placements carried out?",
    "Hvad gør medarbejderne, når de får spørgsmål om KLV-listen?",
]


def test_answers_for_the_public_never_cite_an_internal_source(shared_index):
    service = AnswerService(shared_index)
    documents = service.reader.snapshot.documents.values()
    internal = {d.source for d in documents if d.audience == "internal"}
    assert internal and internal != {d.source for d in documents}, "the demo corpus has both audiences"
    cited_internal_for_staff = False
    for question in PROCEDURE_QUESTIONS:
        staff = service.ask(question)
        cited_internal_for_staff |= any(c.source in internal for c in staff.citations)
        public = service.ask(question, audiences=frozenset({"public"}))
        assert not any(c.source in internal for c in public.citations), question
        assert not any(s.source in internal for s in public.see_also), question
    assert cited_internal_for_staff, "staff do get the internal procedures"


def test_audience_defaults_to_internal_and_a_wrong_value_fails_that_document_only(make_index):
    settings = make_index()
    folder = settings.knowledge_dir / "procedures"
    (folder / "uden-maalgruppe.md").write_text(
        "---\ntitle: Kantineordning\n---\n## Priser\n\nEn frokost i kantinen koster 19 kroner for praktikanter.\n",
        encoding="utf-8")
    (folder / "forkert-maalgruppe.md").write_text(
        "---\ntitle: Parkering\naudience: hemmelig\n---\n## Regler\n\nPraktikanter parkerer på gæstepladserne.\n",
        encoding="utf-8")
    report = sync(settings)
    failed = {f["path"]: f["error"] for f in report.failed}
    assert list(failed) == ["procedures/forkert-maalgruppe.md"]
    assert "audience" in failed["procedures/forkert-maalgruppe.md"]
    by_source = {d.source: d for d in IndexReader(settings).snapshot.documents.values()}
    assert by_source["procedures/uden-maalgruppe.md"].audience == "internal"
