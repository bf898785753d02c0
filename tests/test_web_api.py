"""The HTTP API through httpx against the real app and a real index (see CONTRACT.md)."""

from __future__ import annotations

import io
import re
import threading
import time
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, make_settings
from docx import Document
from fastapi.testclient import TestClient

from bot.draft import PLACEHOLDER
from bot.runtime import Runtime
from bot.web.app import create_app
from ingest.documents import is_source_file
from ingest.lock import writer_lock

TOKEN = "s3cret-admin-token"
KLV = "Bruger forvaltningen KLV-listerne fra RAR?"
UNANSWERABLE = "Hvad koster en parkeringstilladelse i Indre By?"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def client_for(settings) -> TestClient:
    return TestClient(create_app(Runtime(settings)))


@pytest.fixture(scope="module")
def client(shared_index) -> TestClient:
    return client_for(shared_index)


@pytest.fixture(scope="module")
def admin_client(shared_index) -> TestClient:
    return client_for(shared_index.model_copy(update={"admin_token": TOKEN}))


def assert_valid_answer(data: dict) -> None:
    """The Answer contract: every [n] is cited, every citation is used, abstained ⇒ no citations."""
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert markers == {c["n"] for c in data["citations"]}
    assert data["answer"].strip()
    if data["abstained"]:
        assert data["citations"] == []


def ask(client: TestClient, question: str) -> dict:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    assert_valid_answer(response.json())
    return response.json()


def test_healthz_reports_the_index(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["documents"] == demo_documents() and response.json()["chunks"] > demo_documents()


def demo_documents() -> int:
    """How many source documents knowledge/ holds (derived, so adding a document doesn't break a test)."""
    return sum(1 for p in KNOWLEDGE.rglob("*") if is_source_file(p))


def test_ask_answers_with_citations_and_audits_it(client, shared_index):
    response = client.post("/api/ask", json={"question": KLV})
    data = response.json()
    assert_valid_answer(data)
    assert not data["abstained"] and "ikke at gennemføre" in data["answer"]
    assert data["citations"][0]["source"].startswith("inquiry-answers/")
    assert 0 < data["confidence"] <= 1 and isinstance(data["low_confidence"], bool)
    assert all(s["chunk_id"] not in {c["chunk_id"] for c in data["citations"]} for s in data["see_also"])
    audit_id = int(response.headers["X-Audit-Id"])
    row = next(r for r in Runtime(shared_index).records.recent_audit(20) if r["id"] == audit_id)
    assert (row["channel"], row["question"], row["answer"]) == ("web", KLV, data["answer"])
    assert data["citations"][0]["quote"] in row["citations"]


def test_a_follow_up_is_read_with_the_history(client):
    history = [{"question": KLV, "answer": ask(client, KLV)["answer"]}]
    data = client.post("/api/ask", json={"question": "Hvorfor ikke?", "history": history}).json()
    assert_valid_answer(data)
    assert not data["abstained"]


def test_unanswerable_question_abstains(client):
    data = ask(client, UNANSWERABLE)
    assert data["abstained"] and data["citations"] == []


@pytest.mark.parametrize("body", [
    {"question": ""}, {"question": "   \n\t "}, {"question": "hvad\x00nu?"}, {"question": "x" * 2001},
    {}, {"question": 42}, {"question": ["a"]}, {"question": "ok?", "history": [{"answer": "no question"}]},
])
def test_bad_questions_get_422_with_a_clear_message(client, body):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str) and len(response.json()["detail"]) > 10


def test_malformed_json_is_422_not_500(client):
    response = client.post("/api/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and isinstance(response.json()["detail"], str)


def test_search_returns_passages(client):
    response = client.post("/api/search", json={"query": "medarbejderrepræsentant p-nummer", "k": 3})
    results = response.json()["results"]
    assert len(results) == 3
    assert any("p-nummer" in r["text"] for r in results)
    assert client.post("/api/search", json={"query": "KLV", "k": 0}).status_code == 422
    assert client.post("/api/search", json={"query": "", "k": 3}).status_code == 422


def test_document_text_contains_the_quote_at_its_offsets(client):
    citation = ask(client, KLV)["citations"][0]
    document = client.get(f"/api/documents/{citation['doc_id']}").json()
    quoted = document["text"][citation["quote_start"]:citation["quote_end"]]
    assert " ".join(quoted.split()) == " ".join(citation["quote"].split())
    assert document["source"] == citation["source"] and document["chunks"] > 0
    assert client.get("/api/documents/does-not-exist").status_code == 404


def test_feedback_is_stored_and_survives_a_restart(client, shared_index):
    audit_id = int(client.post("/api/ask", json={"question": KLV}).headers["X-Audit-Id"])
    response = client.post("/api/feedback", json={"question": KLV, "rating": -1, "comment": "for kort",
                                                  "audit_id": audit_id})
    assert response.status_code == 201
    stored = Runtime(shared_index).records.recent_feedback(10)  # a new process would see the same
    row = next(r for r in stored if r["id"] == response.json()["id"])
    assert (row["rating"], row["comment"], row["audit_id"], row["channel"]) == (-1, "for kort", audit_id, "web")
    assert client.post("/api/feedback", json={"question": KLV, "rating": 5}).status_code == 422


def test_draft_and_its_docx(client):
    inquiry = f"Kære forvaltning\n\n1. {KLV}\n2. {UNANSWERABLE}\n\nMed venlig hilsen\nAndreas Keil"
    draft = client.post("/api/draft", json={"inquiry": inquiry}).json()
    assert [item["n"] for item in draft["items"]] == [1, 2]
    assert_valid_answer(draft["items"][0]["answer"])
    assert draft["items"][1]["answer"]["abstained"]
    assert draft["letter"].startswith("Kære Andreas Keil")
    assert "Spørgsmål 2\nHvad koster en parkeringstilladelse i Indre By?" in draft["letter"]
    assert PLACEHOLDER in draft["letter"]

    response = client.post("/api/draft.docx", json=draft)
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    paragraphs = [p.text for p in Document(io.BytesIO(response.content)).paragraphs]
    assert "Kære Andreas Keil" in paragraphs and PLACEHOLDER in paragraphs
    assert client.post("/api/draft", json={"inquiry": "Tak for sidst."}).status_code == 422


def test_metrics_count_requests_abstentions_and_the_index(shared_index):
    client = client_for(shared_index)
    ask(client, UNANSWERABLE)
    ask(client, KLV)
    text = client.get("/metrics").text
    assert 'praktikbot_http_requests_total{method="POST",route="/api/ask",status="200"} 2.0' in text
    assert 'praktikbot_http_request_duration_seconds_count{method="POST",route="/api/ask"} 2.0' in text
    assert 'praktikbot_abstentions_total{channel="web"} 1.0' in text
    assert 'praktikbot_answers_total{channel="web"} 2.0' in text
    assert "praktikbot_documents 5.0" in text
    assert re.search(r"^praktikbot_chunks [1-9]\d*\.0$", text, re.MULTILINE)


def test_no_index_means_503_with_a_reason(tmp_path):
    client = client_for(make_settings(tmp_path))
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert "praktikbot ingest" in health.json()["reason"]
    response = client.post("/api/ask", json={"question": KLV})
    assert response.status_code == 503 and "praktikbot ingest" in response.json()["detail"]


def test_unreachable_chroma_server_is_degraded(shared_index):
    client = client_for(shared_index.model_copy(update={"chroma_url": "http://127.0.0.1:9"}))
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert "Chroma" in health.json()["reason"]


# --- admin ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("get", "/api/admin/documents"), ("post", "/api/admin/ingest"),
                                         ("get", "/api/admin/ingest"), ("delete", "/api/admin/documents/x")])
def test_admin_without_a_configured_token_is_503_and_says_how_to_enable(client, method, path):
    response = getattr(client, method)(path, headers=ADMIN)
    assert response.status_code == 503
    assert "PRAKTIKBOT_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"}])
def test_admin_with_missing_or_wrong_token_is_401(shared_index, headers):
    admin_client = client_for(shared_index.model_copy(update={"admin_token": TOKEN}))  # no backoff from others
    for method, path in [("get", "/api/admin/documents"), ("post", "/api/admin/ingest"),
                         ("post", "/api/admin/documents")]:
        assert getattr(admin_client, method)(path, headers=headers).status_code == 401


def test_admin_lists_documents_with_chunks_dates_and_last_report(admin_client):
    data = admin_client.get("/api/admin/documents", headers=ADMIN).json()
    by_source = {d["source"]: d for d in data["documents"]}
    letter = by_source["inquiry-answers/svar-paa-henvendelse-om-virksomhedspraktik-2019.txt"]
    assert letter["valid_from"] == "2019" and letter["chunks"] > 1 and letter["type"] == "inquiry-answer"
    assert data["ingest"]["report"]["documents"] == demo_documents() and data["ingest"]["running"] is False


def test_a_reingest_while_another_process_writes_is_409(admin_client, shared_index):
    with writer_lock(shared_index.data_dir):  # as if another re-ingest were writing
        response = admin_client.post("/api/admin/ingest", headers=ADMIN)
    assert response.status_code == 409 and "kører allerede" in response.json()["detail"]


@pytest.mark.parametrize("name,folder,status", [
    ("virus.exe", "", 422), ("notes.md", "../outside", 422), ("notes.md", "a/../b", 422), ("notes.md", ".git", 422),
    ("empty.md", "procedures", 422),
])
def test_bad_uploads_are_refused(admin_client, shared_index, name, folder, status):
    content = b"" if name == "empty.md" else b"# Noter\n\nTekst."
    response = admin_client.post("/api/admin/documents", headers=ADMIN, data={"folder": folder},
                                 files={"file": (name, content)})
    assert response.status_code == status and isinstance(response.json()["detail"], str)
    assert not list(shared_index.knowledge_dir.parent.rglob(name)), "nothing may be written"


def test_upload_larger_than_10_mb_is_413(admin_client, shared_index):
    big = b"a" * (10 * 1024 * 1024 + 1)
    response = admin_client.post("/api/admin/documents", headers=ADMIN, files={"file": ("big.txt", big)})
    assert response.status_code == 413
    assert not list(shared_index.knowledge_dir.rglob("*big.txt*"))


PROCEDURE_V1 = """---
title: Procedure for kantineordningen for praktikanter
valid_from: "2025-02-01"
---
## Kantineordning

Praktikanter i virksomhedspraktik hos forvaltningen kan købe frokost i kantinen for 19 kroner om dagen.
"""
PROCEDURE_V2 = PROCEDURE_V1.replace("19 kroner", "27 kroner").replace("2025-02-01", "2025-06-01")
CANTEEN = "Hvad koster frokost i kantinen for praktikanter?"


def test_upload_reingest_replace_and_delete_a_procedure(make_index):
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)

    # a path in the file name is dropped: the file lands in the folder asked for, never outside
    uploaded = client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures"},
                           files={"file": ("../../kantine ordning.md", PROCEDURE_V1.encode())})
    assert uploaded.status_code == 201, uploaded.text
    source = uploaded.json()["source"]
    assert source == "procedures/kantine-ordning.md" and uploaded.json()["replaced"] is False
    assert (settings.knowledge_dir / source).read_text(encoding="utf-8") == PROCEDURE_V1
    assert all(c["source"] != source for c in ask(client, CANTEEN)["citations"])  # not ingested yet

    report = client.post("/api/admin/ingest", headers=ADMIN).json()
    assert report["added"] == [source] and not report["failed"]
    answer = ask(client, CANTEEN)
    cited = [c for c in answer["citations"] if c["source"] == source]
    assert cited and "19 kroner" in cited[0]["quote"] and cited[0]["valid_from"] == "2025-02-01"
    listed = {d["source"]: d for d in client.get("/api/admin/documents", headers=ADMIN).json()["documents"]}
    assert listed[source]["chunks"] >= 1 and listed[source]["valid_from"] == "2025-02-01"

    replaced = client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures"},
                           files={"file": ("kantine ordning.md", PROCEDURE_V2.encode())})
    assert replaced.json() == {"source": source, "bytes": len(PROCEDURE_V2.encode()), "replaced": True}
    assert client.post("/api/admin/ingest", headers=ADMIN).json()["updated"] == [source]
    for question in (CANTEEN, "Hvor meget koster en frokost i kantinen?", "Kantineordning for praktikanter"):
        answer = ask(client, question)
        assert "19 kroner" not in answer["answer"]
        assert all("19 kroner" not in c["quote"] + c["passage"] for c in answer["citations"])
    cited = [c for c in ask(client, CANTEEN)["citations"] if c["source"] == source]
    assert cited and "27 kroner" in cited[0]["quote"] and cited[0]["valid_from"] == "2025-06-01"

    doc_id = cited[0]["doc_id"]
    deleted = client.delete(f"/api/admin/documents/{doc_id}", headers=ADMIN)
    assert deleted.status_code == 202 and deleted.json()["removed"] == source
    assert finished_job(client, deleted.json()["job"]["id"])["report"]["removed"] == [source]
    assert not (settings.knowledge_dir / source).exists()
    assert all(c["source"] != source for c in ask(client, CANTEEN)["citations"])
    assert client.get(f"/api/documents/{doc_id}").status_code == 404
    assert client.delete(f"/api/admin/documents/{doc_id}", headers=ADMIN).status_code == 404


def finished_job(client: TestClient, job_id: str) -> dict:
    """Poll an admin job until it is done or failed."""
    while (job := client.get(f"/api/admin/jobs/{job_id}", headers=ADMIN).json())["state"] in ("queued", "running"):
        time.sleep(0.05)
    return job


def test_questions_are_answered_during_a_live_reingest(make_index):
    """While a re-ingest runs in the server, questions from several threads (as uvicorn's workers send
    them) each get a whole answer from the old or the new version; afterwards the new text is cited,
    without a restart."""
    settings = make_index(admin_token=TOKEN, rate_ask_per_minute=100_000)  # asks as fast as it can
    client = client_for(settings)
    guideline: Path = settings.knowledge_dir / "guidelines" / "retningslinje-virksomhedspraktik.md"
    new_fact = "Praktikanter skal altid have en fast kontaktperson på arbejdspladsen fra første dag."
    guideline.write_text(guideline.read_text(encoding="utf-8")
                         + f"\n\n## Kontaktperson på arbejdspladsen\n\n{new_fact}\n", encoding="utf-8")
    answers: list[dict] = []
    failures: list[str] = []
    done = threading.Event()

    def keep_asking(question: str) -> None:
        while not done.is_set():
            response = client.post("/api/ask", json={"question": question})
            if response.status_code == 200:
                answers.append(response.json())
            else:
                failures.append(f"{response.status_code}: {response.text[:200]}")

    # the second question is answered from the guideline being replaced
    askers = [threading.Thread(target=keep_asking, args=(q,)) for q in
              (KLV, "Hvor mange personer må være i virksomhedspraktik i forhold til de ordinært ansatte?")]
    for thread in askers:
        thread.start()
    assert client.post("/api/admin/ingest?wait=false", headers=ADMIN).status_code == 202
    polls = 0
    while client.get("/api/admin/ingest", headers=ADMIN).json()["running"]:
        polls += 1
        time.sleep(0.05)
    done.set()
    for thread in askers:
        thread.join()

    progress = client.get("/api/admin/ingest", headers=ADMIN).json()
    assert polls > 0 and progress["error"] is None
    assert progress["report"]["updated"] == ["guidelines/retningslinje-virksomhedspraktik.md"]
    assert failures == []
    assert len(answers) >= 4
    for answer in answers:
        assert_valid_answer(answer)
        assert not answer["abstained"] and answer["citations"]
    after = ask(client, "Skal praktikanter have en fast kontaktperson på arbejdspladsen?")
    assert any(new_fact in c["quote"] and c["source"] == "guidelines/retningslinje-virksomhedspraktik.md"
               for c in after["citations"])


def test_slack_events_endpoint_is_served_only_when_configured(client, shared_index):
    assert client.post("/slack/events", json={}).status_code == 404
    slack = client_for(shared_index.model_copy(update={"slack_bot_token": "xoxb-test",
                                                       "slack_signing_secret": "signing-secret"}))
    assert slack.post("/slack/events", json={"type": "url_verification"}).status_code == 401  # unsigned


def test_openapi_docs_work_without_internet(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]
