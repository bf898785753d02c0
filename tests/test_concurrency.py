"""Concurrency through the HTTP API: questions during a re-ingest, and admin requests that race."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from test_web_api import ADMIN, TOKEN, client_for, finished_job

from ingest.documents import doc_id_for

GUIDELINE = "guidelines/retningslinje-virksomhedspraktik.md"
LETTER = "inquiry-answers/svar-paa-henvendelse-om-virksomhedspraktik-2019.txt"
QUESTIONS = [
    "Bruger forvaltningen KLV-listerne fra RAR?",
    "Hvor mange personer må være i virksomhedspraktik i forhold til de ordinært ansatte?",
    "Hvilke krav stiller forvaltningen til virksomhedernes træningsprogrammer?",
    "Hvor længe må en virksomhedspraktik vare?",
    "Hvad er formålet med virksomhedspraktik?",
]
ASKERS = 50


def _edit_at_the_top(settings, source: str, paragraph: str) -> None:
    """Put a paragraph before the body (after any front matter), so every offset of the old text moves."""
    path: Path = settings.knowledge_dir / source
    text = path.read_text(encoding="utf-8")
    if text.startswith("---"):
        end = text.index("\n---", 3) + len("\n---\n")
        path.write_text(f"{text[:end]}\n{paragraph}\n\n{text[end:]}", encoding="utf-8")
    else:
        path.write_text(f"{paragraph}\n\n{text}", encoding="utf-8")


def _versions(citations: list[dict], texts: list[str]) -> set[int]:
    """The versions (indexes into `texts`) in which every one of these citations sits at its offsets."""
    return {v for v, text in enumerate(texts)
            if all(" ".join(text[c["quote_start"]:c["quote_end"]].split()) == " ".join(c["quote"].split())
                   for c in citations)}


def test_50_concurrent_questions_during_a_reingest_each_cite_one_version(make_index):
    settings = make_index(admin_token=TOKEN, rate_ask_per_minute=100_000)  # one client asks them all
    client = client_for(settings)
    runtime = client.app.state.runtime
    edited = {GUIDELINE: "Denne udgave af retningslinjen er opdateret med nye afsnit.",
              LETTER: "Opdateret udskrift af brevet."}
    old = {doc_id_for(s): runtime.document_text(doc_id_for(s))[1] for s in edited}
    for source, paragraph in edited.items():
        _edit_at_the_top(settings, source, paragraph)

    accepted = client.post("/api/admin/ingest?wait=false", headers=ADMIN)
    assert accepted.status_code == 202
    job_id = accepted.json()["job"]["id"]
    start = threading.Barrier(ASKERS)

    def ask(n: int) -> tuple[str, int, dict | str]:
        start.wait()  # all 50 at once
        state = client.get(f"/api/admin/jobs/{job_id}", headers=ADMIN).json()["state"]
        response = client.post("/api/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]})
        return state, response.status_code, response.json() if response.status_code == 200 else response.text

    with ThreadPoolExecutor(ASKERS) as pool:
        results = list(pool.map(ask, range(ASKERS)))
    job = finished_job(client, job_id)
    assert job["state"] == "done" and sorted(job["report"]["updated"]) == sorted(edited)
    new = {doc_id: runtime.document_text(doc_id)[1] for doc_id in old}
    assert all(new[d] != old[d] for d in old)

    assert [r for r in results if r[1] != 200] == []
    assert any(state in ("queued", "running") for state, _, _ in results), "no question overlapped the re-ingest"
    cited_edited = 0
    for _, _, answer in results:
        by_doc: dict[str, list[dict]] = {}
        for citation in answer["citations"]:
            by_doc.setdefault(citation["doc_id"], []).append(citation)
        for doc_id, citations in by_doc.items():
            if doc_id in old:
                cited_edited += 1
                assert _versions(citations, [old[doc_id], new[doc_id]]), \
                    f"{answer['question']!r} cites {citations[0]['source']} from no single version"
    assert cited_edited, "no answer cited an edited document"


PROCEDURE = """---
title: Procedure for mødelokaler til praktikanter
valid_from: "2025-03-01"
---
## Mødelokaler

Praktikanter kan booke mødelokale 4 på 2. sal til samtaler med deres kontaktperson.
"""


def test_racing_upload_delete_and_reingest_are_all_queued_and_none_is_lost(make_index):
    """Uploads, deletes and re-ingests sent at the same moment are all accepted as jobs; each ends
    done with its report, and the index ends as the files say: uploads in, deleted documents out."""
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)
    runtime = client.app.state.runtime
    deleted_sources = ["procedures/procedure-klv-lister.md", "guidelines/regler-og-versioner.md"]
    deleted_ids = [doc_id_for(s) for s in deleted_sources]
    calls = [
        lambda: client.post("/api/admin/ingest?wait=false", headers=ADMIN),
        lambda: client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures", "ingest": "true"},
                            files={"file": ("moedelokaler.md", PROCEDURE.encode())}),
        lambda: client.delete(f"/api/admin/documents/{deleted_ids[0]}", headers=ADMIN),
        lambda: client.post("/api/admin/ingest?wait=false", headers=ADMIN),
        lambda: client.delete(f"/api/admin/files/{deleted_sources[1]}", headers=ADMIN),
        lambda: client.post("/api/admin/ingest", headers=ADMIN),  # waits for its own job
    ]
    start = threading.Barrier(len(calls))

    def call(n: int):
        start.wait()
        return calls[n]()

    with ThreadPoolExecutor(len(calls)) as pool:
        responses = list(pool.map(call, range(len(calls))))
    assert [r.status_code for r in responses] == [202, 202, 202, 202, 202, 200], [r.text for r in responses]
    assert responses[-1].json()["documents"] >= 1  # the waited re-ingest returned its report

    jobs = [finished_job(client, r.json()["job"]["id"]) for r in responses[:-1]]
    assert all(job["state"] == "done" and job["error"] is None for job in jobs), jobs
    listed = {job["id"] for job in client.get("/api/admin/jobs", headers=ADMIN).json()["jobs"]}
    assert {job["id"] for job in jobs} <= listed

    indexed = {d["source"] for d in client.get("/api/admin/documents", headers=ADMIN).json()["documents"]}
    assert "procedures/moedelokaler.md" in indexed
    assert not indexed & set(deleted_sources)
    assert not any((settings.knowledge_dir / s).exists() for s in deleted_sources)
    answer = client.post("/api/ask", json={"question": "Hvilket mødelokale kan praktikanter booke?"}).json()
    assert any(c["source"] == "procedures/moedelokaler.md" for c in answer["citations"])
    assert all(c["source"] not in deleted_sources for c in answer["citations"])
    assert runtime.pending() == 0
