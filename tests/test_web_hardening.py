"""The public API under abuse and faults, through HTTP against the real app and index: limits on
questions, bodies, tokens and rates; text no encoder takes; a vector store that goes away; and the
audience of documents and drafts."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from docx import Document
from fastapi.testclient import TestClient

from bot.answer import MAX_QUESTION_TOKENS
from bot.draft import MAX_QUESTIONS
from bot.runtime import Runtime
from bot.web.admin import MAX_UPLOAD_BYTES
from bot.web.app import create_app
from ingest.reader import IndexReader

TOKEN = "s3cret-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
KLV = "Bruger forvaltningen KLV-listerne fra RAR?"
# staff get the internal procedures cited for these (see test_audience.py)
PROCEDURE_QUESTIONS = [
    "Hvordan kontrollerer sagsbehandleren forholdstalskravet, når KLV-listen ikke valideres?",
    "How are sample checks of work placements carried out?",
    "Hvad gør medarbejderne, når de får spørgsmål om KLV-listen?",
]


def client_for(settings, **overrides) -> TestClient:
    return TestClient(create_app(Runtime(settings.model_copy(update=overrides))))


@pytest.fixture(scope="module")
def client(shared_index) -> TestClient:
    return client_for(shared_index)


def post_raw(client: TestClient, path: str, body: object) -> httpx.Response:
    """JSON as a browser may send it: lone surrogates escaped ("\\ud800"), which httpx's encoder refuses."""
    return client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def assert_clear_4xx(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and len(detail) > 10
    return detail


def last_audit_id(runtime: Runtime) -> int:
    rows = runtime.records.recent_audit(1)
    return rows[0]["id"] if rows else 0


# --- 1. the number of questions in a draft --------------------------------------------------------------


def test_a_draft_over_the_question_limit_is_refused_before_anything_is_answered(client):
    runtime = client.app.state.runtime
    before = last_audit_id(runtime)
    inquiry = "\n".join(f"{n}. Hvor længe må praktik nummer {n} vare?" for n in range(1, MAX_QUESTIONS + 2))
    detail = assert_clear_4xx(client.post("/api/draft", json={"inquiry": inquiry}), 422)
    # "100." and "101." are questions of their own, not merged into question 99
    assert f"{MAX_QUESTIONS + 1} spørgsmål" in detail and f"højst besvare {MAX_QUESTIONS}" in detail
    assert last_audit_id(runtime) == before, "nothing may be answered or audited"


def test_a_bad_question_in_a_draft_refuses_the_draft_before_any_answer(client):
    runtime = client.app.state.runtime
    before = last_audit_id(runtime)
    inquiry = f"1. {KLV}\n2. Hvad\x07 nu?\n3. {'😀' * 600}?"
    detail = assert_clear_4xx(client.post("/api/draft", json={"inquiry": inquiry}), 422)
    assert detail.startswith("spørgsmål 2")
    assert last_audit_id(runtime) == before


# --- 2. a draft with characters XML can't hold becomes a valid .docx -----------------------------------


def test_docx_of_a_draft_with_control_characters_and_surrogates_is_valid(client):
    draft = client.post("/api/draft", json={"inquiry": f"1. {KLV}"}).json()
    dirty = "\x07bel\x0bvt\ufffenon\ud800half"
    draft["greeting"] = f"Kære {dirty}"
    item = draft["items"][0]
    item["question"] = dirty
    item["answer"]["answer"] += dirty
    item["answer"]["citations"][0]["title"] = dirty
    response = post_raw(client, "/api/draft.docx", draft)
    assert response.status_code == 200, response.text
    texts = "\n".join(p.text for p in Document(io.BytesIO(response.content)).paragraphs)
    assert "Kære \ufffdbel\ufffdvt\ufffdnon\ufffdhalf" in texts
    assert "Beskæftigelses- og Integrationsforvaltningens svar" in texts


# --- 3. request body limits ----------------------------------------------------------------------------


def test_a_48_mb_json_body_is_refused_from_its_length(client):
    runtime = client.app.state.runtime
    before = last_audit_id(runtime)
    body = b'{"question": "' + b"a" * (48 * 2**20) + b'"}'
    detail = assert_clear_4xx(client.post("/api/ask", content=body, headers={"Content-Type": "application/json"}),
                              413)
    assert "for stor" in detail and str(runtime.settings.max_body_bytes) in detail
    assert last_audit_id(runtime) == before


def send_streamed(app, path: str, chunks: Iterator[bytes], content_type: str,
                  headers: dict[str, str] | None = None) -> tuple[int, dict, int]:
    """POST a body without Content-Length (chunked), as a streaming client does, straight to the ASGI
    app; returns the status, the JSON body and how many chunks the server pulled."""
    pulled = 0
    response: dict = {"body": b""}

    async def receive() -> dict:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
        elif message["type"] == "http.response.body":
            response["body"] += message.get("body", b"")

    raw = [(b"content-type", content_type.encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": raw,
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80), "state": {}}
    anyio.run(app, scope, receive, send)
    return response["status"], json.loads(response["body"]), pulled


def test_a_chunked_body_is_cut_off_while_it_streams(client):
    chunk = b" " * 65536
    total = 48 * 16  # 48 MB of chunks, never all sent
    status, body, pulled = send_streamed(client.app, "/api/ask", iter([chunk] * total), "application/json")
    assert status == 413 and "for stor" in body["detail"]
    assert pulled * len(chunk) <= client.app.state.runtime.settings.max_body_bytes + len(chunk)


def test_uploads_have_their_own_limit_and_a_bigger_one_stops_while_streaming(make_index):
    settings = make_index(admin_token=TOKEN)
    client = client_for(settings)
    two_mb = b"Praktik.\n" * (2 * 2**20 // 9)
    assert client.post("/api/ask", content=b'{"question": "' + two_mb + b'"}',
                       headers={"Content-Type": "application/json"}).status_code == 413  # the JSON limit
    accepted = client.post("/api/admin/documents", headers=ADMIN, data={"folder": "procedures"},
                           files={"file": ("stor.txt", two_mb)})
    assert accepted.status_code in (201, 202), accepted.text  # over the JSON limit, within the upload's

    chunk = b"a" * 65536
    prefix = (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"enorm.txt\"\r\n"
              b"Content-Type: text/plain\r\n\r\n")
    total = 4 * MAX_UPLOAD_BYTES // len(chunk)
    status, body, pulled = send_streamed(client.app, "/api/admin/documents", iter([prefix] + [chunk] * total),
                                         "multipart/form-data; boundary=xyz", ADMIN)
    assert status == 413 and "for stor" in body["detail"]
    assert pulled < total // 2, "the server stopped reading soon after the limit"
    assert not list(settings.knowledge_dir.rglob("*enorm*")), "nothing of it is kept"


def test_slack_events_keep_the_default_limit(shared_index):
    slack = client_for(shared_index, slack_bot_token="xoxb-test", slack_signing_secret="signing-secret")
    response = slack.post("/slack/events", content=b"x" * (shared_index.max_body_bytes + 1),
                          headers={"Content-Type": "application/json"})
    assert_clear_4xx(response, 413)


# --- 4. text that reaches the embedder --------------------------------------------------------------


@pytest.mark.parametrize("path,body", [
    ("/api/ask", {"question": "Hvad er \ud800 KLV?"}),
    ("/api/ask", {"question": "Hvorfor ikke?", "history": [{"question": "KLV\udfff?", "answer": "x"}]}),
    ("/api/ask", {"question": "Hvorfor ikke?", "history": [{"question": KLV, "answer": "\ud800"}]}),
    ("/api/search", {"query": "\udc00KLV", "k": 3}),
    ("/api/draft", {"inquiry": f"1. {KLV}\n\nMvh. \ud800"}),
    ("/api/feedback", {"question": "KLV\ud800", "rating": 1}),
    ("/api/feedback", {"question": KLV, "rating": 1, "comment": "\ud800"}),
    # a key sent by the client is named in the error: it must still make valid JSON
    ("/api/draft.docx", {"greeting": "x", "items": [{"n": 1, "question": "q",
                                                     "answer": {"timings_ms": {"\ud800": "x"}}}]}),
])
def test_lone_surrogates_are_422(client, path, body):
    assert "ugyldig" in assert_clear_4xx(post_raw(client, path, body), 422)


@pytest.mark.parametrize("text", ["😀" * 600, "中文问题" * 450, "a" + "\u0301" * 700, "ཷ" * 200])
def test_questions_over_the_models_token_window_are_422(client, text):
    """Emoji, CJK and combining marks are a token a character (some characters three): over the
    model's one window, the question is refused before the embedder does any work."""
    for path, body in (("/api/ask", {"question": text}), ("/api/search", {"query": text, "k": 3})):
        detail = assert_clear_4xx(client.post(path, json=body), 422)
        assert "tokens" in detail and str(MAX_QUESTION_TOKENS) in detail


def test_a_long_question_within_the_token_window_is_answered(client):
    question = ("Bruger forvaltningen KLV-listerne fra RAR, og hvorfor ikke? " * 40)[:1200]
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text


# --- 5. audit ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("audit_id", [2**63, 2**64 + 5, -1, 0])
def test_out_of_range_audit_ids_are_422(client, audit_id):
    response = client.post("/api/feedback", json={"question": KLV, "rating": 1, "audit_id": audit_id})
    assert "audit_id" in assert_clear_4xx(response, 422)


def test_the_largest_audit_id_is_stored(client):
    response = client.post("/api/feedback", json={"question": KLV, "rating": 1, "audit_id": 2**63 - 1})
    assert response.status_code == 201


# --- 6. the vector store goes away and comes back ----------------------------------------------------


class ChromaServer:
    """`chroma run` over an index's own Chroma folder, so a test can stop and restart it."""

    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port, self.process = path, port, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
        self.process = subprocess.Popen([chroma, "run", "--path", str(self.path), "--host", "127.0.0.1",
                                         "--port", str(self.port)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        while True:  # until it answers (or died)
            assert self.process.poll() is None, "chroma run exited"
            try:
                httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                anyio.run(anyio.sleep, 0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def assert_serving(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert "praktikbot_up 1.0" in client.get("/metrics").text
    assert client.post("/api/ask", json={"question": KLV}).status_code == 200


def assert_degraded(client: TestClient, in_memory: bool = False) -> None:
    """Health and metrics say the store is down. Questions get 503, unless the generation in service is
    one small enough to be searched `in_memory`: then it keeps answering until the store is back."""
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert "Chroma" in health.json()["reason"]
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "praktikbot_up 0.0" in metrics.text
    asked = client.post("/api/ask", json={"question": KLV})
    if in_memory:
        assert asked.status_code == 200 and asked.json()["citations"], asked.text
    else:
        assert "Chroma" in assert_clear_4xx(asked, 503)


def test_a_chroma_server_that_stops_degrades_the_service_until_it_is_back(make_index, free_port):
    local = make_index()
    server = ChromaServer(local.data_dir / "chroma", free_port)
    client = client_for(local, chroma_url=server.url)
    try:
        assert_degraded(client)  # down before the first question: the service can't even open
        server.start()
        assert_serving(client)
        server.stop()
        assert_degraded(client, in_memory=True)  # went away under a running service
        server.start()
        assert_serving(client)  # back by itself, no restart
    finally:
        if server.process and server.process.poll() is None:
            server.stop()


# --- 7. rate limits -----------------------------------------------------------------------------------


def test_asks_over_the_rate_limit_get_429_with_retry_after(shared_index):
    client = client_for(shared_index, rate_ask_per_minute=2)
    for _ in range(2):
        assert client.post("/api/ask", json={"question": KLV}).status_code == 200
    refused = client.post("/api/ask", json={"question": KLV})
    assert "for mange" in assert_clear_4xx(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    other = TestClient(client.app, client=("10.0.0.2", 5000))  # another client has its own allowance
    assert other.post("/api/ask", json={"question": KLV}).status_code == 200
    assert client.post("/api/search", json={"query": KLV, "k": 3}).status_code == 200  # search isn't limited


def test_drafts_over_the_rate_limit_get_429(shared_index):
    client = client_for(shared_index, rate_draft_per_minute=1)
    assert client.post("/api/draft", json={"inquiry": f"1. {KLV}"}).status_code == 200
    refused = client.post("/api/draft", json={"inquiry": f"1. {KLV}"})
    assert_clear_4xx(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1


# --- 8. audience ----------------------------------------------------------------------------------------


def test_internal_documents_are_served_only_with_the_admin_token(shared_index):
    client = client_for(shared_index, admin_token=TOKEN)
    documents = IndexReader(shared_index).snapshot.documents.values()
    internal = next(d for d in documents if d.audience == "internal")
    public = next(d for d in documents if d.audience == "public")
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert "internt" in assert_clear_4xx(client.get(f"/api/documents/{internal.doc_id}", headers=headers), 403)
    shown = client.get(f"/api/documents/{internal.doc_id}", headers=ADMIN)
    assert shown.status_code == 200 and shown.json()["audience"] == "internal" and shown.json()["text"]
    anyone = client.get(f"/api/documents/{public.doc_id}")
    assert anyone.status_code == 200 and anyone.json()["audience"] == "public"
    no_admin_api = client_for(shared_index)  # no token configured: internal documents stay hidden
    assert_clear_4xx(no_admin_api.get(f"/api/documents/{internal.doc_id}"), 403)


def test_drafts_quote_public_sources_unless_internal_ones_are_included(client, shared_index):
    internal = {d.source for d in IndexReader(shared_index).snapshot.documents.values() if d.audience == "internal"}
    inquiry = "\n".join(f"{n}. {q}" for n, q in enumerate(PROCEDURE_QUESTIONS, start=1))

    def cited(include_internal: bool) -> set[str]:
        response = client.post("/api/draft", json={"inquiry": inquiry, "include_internal": include_internal})
        assert response.status_code == 200, response.text
        return {c["source"] for item in response.json()["items"] for c in item["answer"]["citations"]}

    assert not cited(False) & internal
    assert cited(True) & internal


def test_the_page_offers_internal_sources_for_drafts(client):
    page = client.get("/").text
    assert 'id="include-internal"' in page and "Medtag interne kilder (include internal sources)" in page
    assert "include_internal" in client.get("/static/app.js").text


def test_a_cpr_number_a_user_types_is_masked_in_the_answer_the_audit_log_and_feedback(shared_index):
    client = client_for(shared_index)
    runtime: Runtime = client.app.state.runtime
    asked = client.post("/api/ask", json={"question": f"Må borgeren med CPR 010203-1234 komme i praktik? {KLV}"})
    assert asked.status_code == 200 and "010203-1234" not in asked.text and "XXXXXX-XXXX" in asked.json()["question"]
    audit_id = int(asked.headers["X-Audit-Id"])
    given = client.post("/api/feedback", json={"question": "spørgsmål om 0102031234", "rating": -1,
                                              "comment": "borgeren 010203-1234 fik forkert svar", "audit_id": audit_id})
    assert given.status_code == 201
    stored = runtime.records.path.read_bytes() + b"".join(
        p.read_bytes() for p in runtime.records.path.parent.glob(runtime.records.path.name + "-*"))
    assert b"010203-1234" not in stored and b"0102031234" not in stored
    assert "XXXXXX-XXXX" in runtime.records.recent_feedback(1)[0]["comment"]
