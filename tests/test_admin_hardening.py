"""Admin hardening through the HTTP API: uploads checked by content and name, deleting files that never
made it into the index, the job queue (no lost or falsely "done" work, cancelling), the token backoff,
and the audit log's retention (`praktikbot purge`, also at the start of `serve`)."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from conftest import KNOWLEDGE
from docx import Document
from pypdf import PdfWriter
from test_web_api import ADMIN, TOKEN, client_for, finished_job

import bot.runtime
from bot.models import Answer
from bot.records import Records
from bot.web.auth import TokenBackoff
from ingest.documents import doc_id_for
from ingest.lock import writer_lock

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
NOTE = "# Noter om praktik\n\nPraktikanter møder kl. 8.\n".encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _docx() -> bytes:
    document = Document()
    document.add_heading("Procedure for nøgler", level=1)
    document.add_paragraph("Praktikanter får udleveret et nøglekort den første dag.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def admin_client(shared_index):
    return client_for(shared_index.model_copy(update={"admin_token": TOKEN}))


# --- uploads ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,content", [
    ("rapport.pdf", PNG),  # a picture renamed .pdf
    ("brev.docx", PNG),
    ("brev.docx", _zip({"content.xml": b"<x/>"})),  # a zip, but not a Word document
    ("bombe.docx", _zip({"word/document.xml": b"<w/>", "word/fill.xml": bytes(101 * 2**20)})),
    ("noter.txt", b"Praktik\x00\x00binary"),
    ("noter.md", "Praktik i K\u00f8benhavn".encode("latin-1")),  # not UTF-8
    ("side.html", PNG),
    ("README.md", NOTE), ("readme.MD", NOTE),  # the knowledge dir's guide, never a document
    (".skjult.md", NOTE), ("noter.md.meta.yaml", b"title: x\n"),  # hidden file, metadata sidecar
])
def test_uploads_whose_content_or_name_is_wrong_are_422_and_nothing_is_written(admin_client, shared_index,
                                                                               name, content):
    before = _files(shared_index.knowledge_dir)
    for folder in ("", "procedures"):
        response = admin_client.post("/api/admin/documents", headers=ADMIN, data={"folder": folder},
                                     files={"file": (name, content)})
        assert response.status_code == 422, response.text
        assert "(" in response.json()["detail"]  # Danish first, English in parentheses
    assert _files(shared_index.knowledge_dir) == before  # README.md untouched, no temp file left


def test_uploads_of_each_type_with_the_right_content_are_saved(make_index):
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)
    uploads = {"noegler.docx": _docx(), "tom-side.pdf": _pdf(), "noter.md": b"\xef\xbb\xbf" + NOTE,
               "noter.txt": NOTE, "side.html": b"<html><body><h1>Praktik</h1><p>Tekst.</p></body></html>"}
    for name, content in uploads.items():
        response = client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures"},
                               files={"file": (name, content)})
        assert response.status_code == 201, response.text
        assert (settings.knowledge_dir / "procedures" / name).read_bytes() == content


def _long_name(length: int) -> str:
    return ("praktikaftale-" + "æøå" * length)[:length - 3] + ".md"


@pytest.mark.parametrize("length", [214, 240, 255, 300])
def test_a_long_file_name_is_shortened_safely_never_a_500(make_index, length):
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)
    name = _long_name(length)
    first = client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures"},
                        files={"file": (name, NOTE)})
    assert first.status_code == 201, first.text
    saved = settings.knowledge_dir / first.json()["source"]
    assert saved.read_bytes() == NOTE and saved.suffix == ".md" and len(saved.name.encode()) <= 255
    again = client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures"},
                        files={"file": (name, NOTE)})
    assert again.json()["source"] == first.json()["source"] and again.json()["replaced"] is True


def test_a_file_name_too_long_for_a_form_is_a_clear_4xx(admin_client, shared_index):
    before = _files(shared_index.knowledge_dir)
    response = admin_client.post("/api/admin/documents", headers=ADMIN, files={"file": (_long_name(5000), NOTE)})
    assert 400 <= response.status_code < 500 and response.json()["detail"]
    assert _files(shared_index.knowledge_dir) == before


def test_an_upload_that_fails_to_ingest_is_listed_and_can_be_deleted(make_index):
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)
    broken = client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures", "ingest": "true"},
                         files={"file": ("skannet.pdf", b"%PDF-1.7\n" + os.urandom(2000))})
    assert broken.status_code == 202, broken.text
    source = broken.json()["source"]
    job = finished_job(client, broken.json()["job"]["id"])
    assert job["state"] == "done" and [f["path"] for f in job["report"]["failed"]] == [source]

    listed = client.get("/api/admin/documents", headers=ADMIN).json()
    assert source not in {d["source"] for d in listed["documents"]}
    assert [f for f in listed["not_indexed"] if f["source"] == source][0]["error"]

    (settings.knowledge_dir / (source + ".meta.yaml")).write_text("title: Skannet\n", encoding="utf-8")
    deleted = client.delete(f"/api/admin/files/{source}", headers=ADMIN)
    assert deleted.status_code == 202 and deleted.json()["removed"] == source
    assert finished_job(client, deleted.json()["job"]["id"])["state"] == "done"
    assert not (settings.knowledge_dir / source).exists()
    assert not (settings.knowledge_dir / (source + ".meta.yaml")).exists()
    assert source not in {f["source"] for f in client.get("/api/admin/documents", headers=ADMIN).json()["not_indexed"]}
    assert client.delete(f"/api/admin/files/{source}", headers=ADMIN).status_code == 404


@pytest.mark.parametrize("path,status", [
    ("README.md", 422), ("inquiry-answers/svar-paa-henvendelse-om-virksomhedspraktik-2019.txt.meta.yaml", 422),
    (".ingest.lock", 422), ("procedures/%2e%2e/%2e%2e/outside.md", 422), ("procedures/findes-ikke.md", 404),
])
def test_deleting_a_path_that_is_not_a_document_is_refused(admin_client, shared_index, path, status):
    before = _files(shared_index.knowledge_dir)
    response = admin_client.delete(f"/api/admin/files/{path}", headers=ADMIN)
    assert response.status_code == status and isinstance(response.json()["detail"], str)
    assert _files(shared_index.knowledge_dir) == before


# --- jobs ---------------------------------------------------------------------------------------------

@pytest.fixture
def gate(monkeypatch):
    """Holds every ingest at its start until released, so a test can line jobs up behind it."""
    started, release = threading.Event(), threading.Event()
    real_sync = bot.runtime.sync

    def held(*args, **kwargs):
        started.set()
        release.wait()
        return real_sync(*args, **kwargs)

    monkeypatch.setattr(bot.runtime, "sync", held)
    yield started, release
    release.set()


def test_a_failing_background_ingest_is_reported_failed_never_done(make_index):
    client = client_for(make_index(admin_token=TOKEN))
    settings = client.app.state.runtime.settings
    with writer_lock(settings.data_dir):  # another process is writing the index
        accepted = client.post("/api/admin/ingest?wait=false", headers=ADMIN)
        assert accepted.status_code == 202
        job = finished_job(client, accepted.json()["job"]["id"])
    assert job["state"] == "failed" and "kører allerede" in job["error"] and job["report"] is None
    progress = client.get("/api/admin/ingest", headers=ADMIN).json()
    assert progress["running"] is False and progress["job"] == job["id"] and "kører allerede" in progress["error"]


def test_jobs_wait_in_line_and_none_is_lost_or_reported_early(make_index, gate):
    started, release = gate
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)
    klv = "procedures/procedure-klv-lister.md"
    first = client.post("/api/admin/ingest?wait=false", headers=ADMIN).json()["job"]
    started.wait()
    deleted = client.delete(f"/api/admin/documents/{doc_id_for(klv)}", headers=ADMIN)
    assert deleted.status_code == 202 and deleted.json()["job"]["state"] == "queued"  # queued, not 409
    second = client.post("/api/admin/ingest?wait=false", headers=ADMIN).json()["job"]
    third = client.post("/api/admin/ingest?wait=false", headers=ADMIN).json()["job"]
    assert second["state"] == "queued" and third["id"] == second["id"]  # one waiting re-ingest covers both
    progress = client.get("/api/admin/ingest", headers=ADMIN).json()
    assert progress["running"] is True and progress["pending"] == 3
    assert client.get(f"/api/admin/jobs/{first['id']}", headers=ADMIN).json()["state"] == "running"

    release.set()
    while (progress := client.get("/api/admin/ingest", headers=ADMIN).json())["running"]:
        time.sleep(0.05)
    # the moment nothing runs any more, the report there is the last job's, not an older one
    assert progress["report"]["finished_at"] >= second["submitted_at"] and progress["error"] is None
    jobs = [client.get(f"/api/admin/jobs/{j['id']}", headers=ADMIN).json()
            for j in (first, deleted.json()["job"], second)]
    assert [j["state"] for j in jobs] == ["done", "done", "done"]
    assert jobs[0]["started_at"] <= jobs[1]["started_at"] <= jobs[2]["started_at"]  # in the order sent
    assert klv not in {d["source"] for d in client.get("/api/admin/documents", headers=ADMIN).json()["documents"]}
    answer = client.post("/api/ask", json={"question": "Bruger forvaltningen KLV-listerne fra RAR?"}).json()
    assert all(c["source"] != klv for c in answer["citations"])


def test_a_queued_job_can_be_cancelled_and_never_runs(make_index, gate):
    started, release = gate
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)
    rules = "guidelines/regler-og-versioner.md"
    delete = client.delete(f"/api/admin/documents/{doc_id_for(rules)}", headers=ADMIN).json()
    started.wait()  # the delete's ingest of that one path is running
    upload = client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures", "ingest": "true"},
                         files={"file": ("noter.md", NOTE)}).json()
    assert upload["job"]["state"] == "queued" and upload["job"]["cancellable"] is True
    cancelled = client.post(f"/api/admin/jobs/{upload['job']['id']}/cancel", headers=ADMIN)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "failed" and "annulleret" in cancelled.json()["error"]
    refused = client.post(f"/api/admin/jobs/{delete['job']['id']}/cancel", headers=ADMIN)
    assert refused.status_code == 409 and "sletning" in refused.json()["detail"]

    release.set()
    assert finished_job(client, delete["job"]["id"])["state"] == "done"
    never = client.get(f"/api/admin/jobs/{upload['job']['id']}", headers=ADMIN).json()
    assert never["state"] == "failed" and never["started_at"] is None and never["report"] is None
    listed = client.get("/api/admin/documents", headers=ADMIN).json()
    indexed = {d["source"] for d in listed["documents"]}
    assert rules not in indexed and upload["source"] not in indexed  # saved, but its ingest was cancelled
    assert upload["source"] in {f["source"] for f in listed["not_indexed"]}
    assert client.post(f"/api/admin/jobs/{delete['job']['id']}/cancel", headers=ADMIN).status_code == 409
    assert client.get("/api/admin/jobs/nope", headers=ADMIN).status_code == 404


def test_a_running_ingest_can_be_cancelled_and_publishes_nothing(make_index, gate):
    started, release = gate
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)
    runtime = client.app.state.runtime
    source = "procedures/procedure-tilsyn-og-stikproever.md"
    before = runtime.document_text(doc_id_for(source))[1]
    path = settings.knowledge_dir / source
    path.write_text(path.read_text(encoding="utf-8") + "\n\n## Nyt afsnit\n\nTilsyn sker nu hver uge.\n",
                    encoding="utf-8")
    job = client.post("/api/admin/ingest?wait=false", headers=ADMIN).json()["job"]
    started.wait()
    cancelling = client.post(f"/api/admin/jobs/{job['id']}/cancel", headers=ADMIN)
    assert cancelling.status_code == 200 and cancelling.json()["cancel_requested"] is True
    release.set()
    ended = finished_job(client, job["id"])
    assert ended["state"] == "failed" and "annulleret" in ended["error"] and ended["report"]["cancelled"]
    progress = client.get("/api/admin/ingest", headers=ADMIN).json()
    assert progress["running"] is False and "annulleret" in progress["error"]
    assert runtime.document_text(doc_id_for(source))[1] == before  # the old version still serves


# --- the token ----------------------------------------------------------------------------------------

def test_wrong_tokens_back_off_with_429_and_the_right_token_works_afterwards(shared_index):
    client = client_for(shared_index.model_copy(update={"admin_token": TOKEN}))
    now = [1000.0]
    client.app.state.admin_backoff = TokenBackoff(clock=lambda: now[0])
    wrong = {"Authorization": "Bearer a-guess"}
    waits = []
    for _ in range(2):
        statuses = [client.get("/api/admin/ingest", headers=wrong).status_code for _ in range(TokenBackoff.FAILURES)]
        assert statuses == [401] * TokenBackoff.FAILURES
        refused = client.get("/api/admin/ingest", headers=ADMIN)  # even the right token waits
        assert refused.status_code == 429 and "prøv igen" in refused.json()["detail"]
        waits.append(int(refused.headers["Retry-After"]))
        now[0] += waits[-1] + 1
    assert waits[1] > waits[0] > 0  # growing
    assert client.get("/api/admin/ingest", headers=ADMIN).status_code == 200
    assert client.get("/api/admin/ingest", headers=wrong).status_code == 401  # a fresh start after success


# --- audit retention -----------------------------------------------------------------------------------

def _answer(question: str) -> Answer:
    return Answer(question=question, language="da", answer="Ingen kilder.", abstained=True, generator="extractive")


def _age(records: Records, table: str, row_id: int, days: float) -> None:
    with sqlite3.connect(records.path) as db:
        db.execute(f"UPDATE {table} SET ts = ? WHERE id = ?", (time.time() - days * 86400, row_id))


def _aged_log(data_dir: Path) -> tuple[Records, dict[str, int]]:
    """An audit log with an answer 40 days old (with feedback), one 5 days old, and old feedback."""
    records = Records(data_dir)
    ids = {"old": records.audit("web", _answer("Hvad hedder borgeren i sag 17?")),
           "new": records.audit("web", _answer("Hvornår er der tilsyn?"))}
    ids["old_feedback"] = records.feedback("web", "Hvad hedder borgeren i sag 17?", -1, audit_id=ids["old"])
    ids["new_feedback"] = records.feedback("web", "Hvornår er der tilsyn?", 1, audit_id=ids["new"])
    ids["loose_feedback"] = records.feedback("web", "Gammel kommentar", 1)
    _age(records, "audit", ids["old"], 40)
    _age(records, "audit", ids["new"], 5)
    _age(records, "feedback", ids["loose_feedback"], 40)
    return records, ids


def _praktikbot(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRAKTIKBOT_")}
    environment.update(PRAKTIKBOT_DATA_DIR=str(tmp_path / "data"), PRAKTIKBOT_KNOWLEDGE_DIR=str(KNOWLEDGE),
                       PYTHONUNBUFFERED="1", **env)
    return subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_purge_deletes_old_answers_and_their_feedback_and_says_how_many(tmp_path):
    records, ids = _aged_log(tmp_path / "data")
    refused = _praktikbot(tmp_path, "purge")
    assert refused.wait() == 2 and "PRAKTIKBOT_AUDIT_DAYS" in refused.stderr.read()

    purge = _praktikbot(tmp_path, "purge", "--days", "30")
    out, err = purge.communicate()
    assert purge.returncode == 0, err
    assert "1 svar og 2 feedback" in out
    assert [r["id"] for r in records.recent_audit()] == [ids["new"]]
    assert [r["id"] for r in records.recent_feedback()] == [ids["new_feedback"]]
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("praktikbot.sqlite3*"))
    assert b"borgeren i sag 17" not in stored  # overwritten, not just unlinked from the table
    assert _praktikbot(tmp_path, "purge", "--days", "-1").wait() == 2


def test_serve_purges_at_start_with_the_retention_setting(tmp_path, free_port):
    records, ids = _aged_log(tmp_path / "data")
    server = _praktikbot(tmp_path, "serve", "--port", str(free_port), PRAKTIKBOT_AUDIT_DAYS="30")
    try:
        first_line = server.stdout.readline()  # printed before the server starts listening
    finally:
        server.terminate()
        server.communicate()
    assert "1 svar og 2 feedback" in first_line
    assert [r["id"] for r in records.recent_audit()] == [ids["new"]]

