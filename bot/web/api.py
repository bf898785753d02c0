"""The public API: health, ask, search, reply drafts, feedback, and a document's cleaned text (what
citation offsets point into, so the page can show a quote highlighted in its context)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.answer import MAX_QUESTION_CHARS
from bot.draft import Draft, draft_reply, letter_docx
from bot.models import Answer, Passage, Turn
from bot.web.deps import RuntimeDep
from ingest.snapshot import DocumentRecord

router = APIRouter()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class HistoryTurn(Turn):
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    answer: str = Field("", max_length=20_000)


class AskRequest(BaseModel):
    question: str
    history: list[HistoryTurn] = Field(default_factory=list, max_length=20)


class SearchRequest(BaseModel):
    query: str
    k: int = Field(5, ge=1, le=20)


class DraftRequest(BaseModel):
    inquiry: str


class FeedbackRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    rating: Literal[1, -1]
    comment: str = Field("", max_length=2000)
    audit_id: int | None = None


def document_info(doc: DocumentRecord) -> dict:
    return {"doc_id": doc.doc_id, "source": doc.source, "title": doc.title, "type": doc.doc_type,
            "valid_from": doc.valid_from, "chunks": len(doc.chunk_ids), "ingested_at": doc.ingested_at}


@router.get("/healthz")
def healthz(rt: RuntimeDep):
    """503 "degraded" when questions can't be answered: no index, or the vector store unreachable."""
    try:
        status = rt.status()
        rt.service.reader.store.heartbeat()
    except Exception as exc:  # any failure here means the bot can't answer; report it, don't crash
        return JSONResponse({"status": "degraded", "reason": str(exc)}, status_code=503)
    return {"status": "ok", **status}


@router.post("/api/ask", response_model=Answer)
def ask(body: AskRequest, rt: RuntimeDep) -> Response:
    """The Answer of the contract; its audit id is in the X-Audit-Id header (for feedback).

    The Answer is serialised once, by itself: it is already valid, and validating it again on the way
    out costs more than the rest of the HTTP layer."""
    answer, audit_id = rt.ask(body.question, list(body.history), channel="web")
    return Response(answer.model_dump_json(), media_type="application/json", headers={"X-Audit-Id": str(audit_id)})


@router.post("/api/search")
def search(body: SearchRequest, rt: RuntimeDep) -> dict[str, list[Passage]]:
    return {"results": rt.service.search(body.query, body.k)}


@router.post("/api/draft", response_model=Draft)
def draft(body: DraftRequest, rt: RuntimeDep) -> Draft:
    return draft_reply(rt, body.inquiry)


@router.post("/api/draft.docx", response_class=Response,
             responses={200: {"content": {DOCX: {}}, "description": "the draft as a Word document"}})
def draft_docx(body: Draft) -> Response:
    """The draft returned by /api/draft (as the page shows it) as .docx; nothing is asked again."""
    return Response(letter_docx(body), media_type=DOCX,
                    headers={"Content-Disposition": 'attachment; filename="udkast-til-svar.docx"'})


@router.post("/api/feedback", status_code=201)
def feedback(body: FeedbackRequest, rt: RuntimeDep) -> dict[str, int]:
    return {"id": rt.records.feedback("web", body.question, body.rating, body.comment, body.audit_id)}


@router.get("/api/documents/{doc_id}")
def document(doc_id: str, rt: RuntimeDep) -> dict:
    found = rt.document_text(doc_id)
    if found is None:
        raise HTTPException(404, "dokumentet findes ikke i indekset (document not in the index)")
    doc, text = found
    return {**document_info(doc), "text": text}
