"""The public API: health, ask, search, reply drafts, feedback, and a document's cleaned text (what
citation offsets point into, so the page can show a quote highlighted in its context). Internal
documents are shown only with the admin token, and drafts quote public sources unless asked not to."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import AfterValidator, BaseModel, Field

from bot.answer import MAX_QUESTION_CHARS, clean_question
from bot.contributed import approved_letter
from bot.currency import in_force, versions
from bot.draft import Draft, draft_reply, letter_docx
from bot.models import Answer, Passage, Turn
from bot.runtime import Runtime
from bot.web.auth import bearer, require_admin
from bot.web.deps import RuntimeDep, rate_limited
from bot.web.metrics import health
from ingest.dates import parse_date
from ingest.snapshot import DocumentRecord, Snapshot

router = APIRouter()
health_router = APIRouter()  # every role's, the worker's too
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PUBLIC = frozenset({"public"})


class HistoryTurn(Turn):
    # checked like the question itself: the last one is embedded with the follow-up
    question: Annotated[str, AfterValidator(clean_question)]
    answer: str = Field("", max_length=20_000)


def _date(value: str | None) -> str | None:
    """An as_of date in ISO or Danish form, checked here so a bad one is a 422 that says why."""
    return None if value is None else parse_date(value)


AsOf = Annotated[str | None, AfterValidator(_date),
                 Field(description="answer from the sources in force on this date (ISO or Danish form); "
                                   "default: today, or a date the question names")]


class AskRequest(BaseModel):
    question: str
    history: list[HistoryTurn] = Field(default_factory=list, max_length=20)
    as_of: AsOf = None


class SearchRequest(BaseModel):
    query: str
    k: int = Field(5, ge=1, le=20)


class DraftRequest(BaseModel):
    inquiry: str
    include_internal: bool = Field(False, description="also quote internal sources (by default a draft for "
                                                      "the press or a citizen quotes public ones only)")
    as_of: AsOf = None


class FeedbackRequest(BaseModel):
    # (pydantic refuses a lone surrogate in a string with a length constraint; the others are checked
    # where they are used: clean_question, the draft's inquiry check)
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    rating: Literal[1, -1]
    comment: str = Field("", max_length=2000)
    audit_id: int | None = Field(None, ge=1, le=2**63 - 1)  # an SQLite row id


def document_info(doc: DocumentRecord, snapshot: Snapshot) -> dict:
    """A document version: its dates, what it replaces and what replaced it, and whether it is in force."""
    known = versions(snapshot)
    return {"doc_id": doc.doc_id, "source": doc.source, "title": doc.title, "type": doc.doc_type,
            "valid_from": doc.valid_from, "valid_to": doc.valid_to, "supersedes": doc.supersedes,
            "replaces": known.replaces(doc.doc_id), "superseded_by": known.newer(doc.doc_id),
            "in_force": in_force(snapshot, doc, dt.date.today()), "chunks": len(doc.chunk_ids),
            "ingested_at": doc.ingested_at, "audience": doc.audience}


@health_router.get("/healthz")
def healthz(rt: RuntimeDep):
    """503 "degraded" when questions can't be answered: no index, or the vector store unreachable."""
    probe = health(rt)
    if probe.problem:
        return JSONResponse({"status": "degraded", "reason": probe.problem}, status_code=503)
    return {"status": "ok", **probe.status}


@router.post("/api/ask", response_model=Answer, dependencies=[rate_limited("ask")],
             responses={429: {"description": "too many questions from this client in the last minute"}})
def ask(body: AskRequest, rt: RuntimeDep) -> Response:
    """The Answer of the contract; its audit id is in the X-Audit-Id header (for feedback).

    The Answer is serialised once, by itself: it is already valid, and validating it again on the way
    out costs more than the rest of the HTTP layer."""
    answer, audit_id = rt.ask(body.question, list(body.history), channel="web", as_of=body.as_of)
    return Response(answer.model_dump_json(), media_type="application/json", headers={"X-Audit-Id": str(audit_id)})


@router.post("/api/search")
def search(body: SearchRequest, rt: RuntimeDep) -> dict[str, list[Passage]]:
    return {"results": rt.service.search(body.query, body.k)}


@router.post("/api/draft", response_model=Draft, dependencies=[rate_limited("draft")],
             responses={429: {"description": "too many drafts from this client in the last minute"}})
def draft(body: DraftRequest, rt: RuntimeDep) -> Draft:
    return draft_reply(rt, body.inquiry, audiences=None if body.include_internal else PUBLIC, as_of=body.as_of)


# --- saved drafts: edited, approved, saved as a source -------------------------------------------------

class SavedDraft(BaseModel):
    draft: Draft


class Approval(BaseModel):
    role: str = Field(min_length=2, max_length=80, description="the approver's role, e.g. fuldmægtig — never a name")


def _draft_record(row: dict, with_draft: bool = True) -> dict:
    draft = Draft.model_validate_json(row["draft_json"])
    record = {"id": row["id"], "created": row["created"], "updated": row["updated"], "status": row["status"],
              "approved_role": row["approved_role"], "approved_at": row["approved_at"], "source": row["source"],
              "questions": len(draft.items), "greeting": draft.greeting}
    return {**record, "draft": draft.model_dump()} if with_draft else record


def _stored_draft(rt: Runtime, draft_id: str) -> dict:
    row = rt.records.draft(draft_id)
    if row is None:
        raise HTTPException(404, "udkastet findes ikke (no such draft)")
    return row


@router.post("/api/drafts", status_code=201)
def save_draft(body: SavedDraft, rt: RuntimeDep) -> dict:
    """Keep a draft on the server (with the team's edits), to finish, approve and save as a source later."""
    draft_id = uuid.uuid4().hex[:16]
    rt.records.save_draft(draft_id, body.draft.model_dump_json())
    return _draft_record(_stored_draft(rt, draft_id))


@router.get("/api/drafts")
def drafts(rt: RuntimeDep) -> dict:
    """The saved drafts, newest first, with their status and who approved them (by role)."""
    return {"drafts": [_draft_record(row, with_draft=False) for row in rt.records.drafts()]}


@router.get("/api/drafts/{draft_id}")
def saved_draft(draft_id: str, rt: RuntimeDep) -> dict:
    return _draft_record(_stored_draft(rt, draft_id))


@router.put("/api/drafts/{draft_id}")
def update_draft(draft_id: str, body: SavedDraft, rt: RuntimeDep) -> dict:
    """Save an edit; an approved draft that is edited must be approved again."""
    _stored_draft(rt, draft_id)
    rt.records.save_draft(draft_id, body.draft.model_dump_json())
    return _draft_record(_stored_draft(rt, draft_id))


@router.post("/api/drafts/{draft_id}/approve", dependencies=[Depends(require_admin)])
def approve_draft(draft_id: str, body: Approval, rt: RuntimeDep) -> dict:
    _stored_draft(rt, draft_id)
    rt.records.approve_draft(draft_id, " ".join(body.role.split()))
    return _draft_record(_stored_draft(rt, draft_id))


@router.post("/api/drafts/{draft_id}/source", status_code=202, dependencies=[Depends(require_admin)])
def draft_as_source(draft_id: str, rt: RuntimeDep) -> dict:
    """Save an approved letter as a source in the letter form (its questions and answers, without the
    inquirer's name and address, personal data masked); a job ingests it. Saving again updates it."""
    row = _stored_draft(rt, draft_id)
    if row["status"] != "approved":
        raise HTTPException(409, "udkastet skal godkendes, før det gemmes som kilde (approve the draft first)")
    draft = Draft.model_validate_json(row["draft_json"])
    answered = [(item.n, item.question, text) for item in draft.items if (text := item.letter_text) is not None]
    if not answered:
        raise HTTPException(409, "udkastet har ingen besvarede spørgsmål (the draft answers no question)")
    path, text = approved_letter(draft_id, answered, row["approved_role"] or "sagsbehandler")
    job = rt.save_source(path, text)
    rt.records.draft_saved_as_source(draft_id, path)
    return {"source": path, "job": job.as_dict()}


@router.post("/api/draft.docx", response_class=Response,
             responses={200: {"content": {DOCX: {}}, "description": "the draft as a Word document"}})
def draft_docx(body: Draft) -> Response:
    """The draft returned by /api/draft (as the page shows it) as .docx; nothing is asked again."""
    return Response(letter_docx(body), media_type=DOCX,
                    headers={"Content-Disposition": 'attachment; filename="udkast-til-svar.docx"'})


@router.post("/api/feedback", status_code=201)
def feedback(body: FeedbackRequest, rt: RuntimeDep) -> dict[str, int]:
    return {"id": rt.records.feedback("web", body.question, body.rating, body.comment, body.audit_id)}


def _require_admin_for_internal(request: Request, rt: Runtime,
                                credentials: HTTPAuthorizationCredentials | None) -> None:
    """The admin API's own check (and its backoff after wrong tokens); any refusal but "wait" is a 403."""
    try:
        require_admin(request, rt, credentials)
    except HTTPException as exc:
        if exc.status_code == 429:
            raise
        raise HTTPException(403, "dokumentet er internt og vises kun med admin-token "
                                 "(internal document: admin token required)") from exc


@router.get("/api/documents", responses={403: {"description": "a wrong admin token"}})
def documents(request: Request, rt: RuntimeDep,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> dict:
    """Every document version with its valid-from and valid-to dates and what supersedes what; the
    public ones, and the internal ones too with the admin token."""
    if credentials is not None:
        _require_admin_for_internal(request, rt, credentials)
    snapshot = rt.service.reader.snapshot
    return {"documents": [document_info(doc, snapshot) for doc in rt.documents()
                          if credentials is not None or doc.audience == "public"],
            "timeline": [change.as_dict() for change in snapshot.timeline]}


@router.get("/api/documents/{doc_id}", responses={403: {"description": "an internal document, without the "
                                                                       "admin token"}})
def document(doc_id: str, request: Request, rt: RuntimeDep,
             credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> dict:
    found = rt.document_text(doc_id)
    if found is None:
        raise HTTPException(404, "dokumentet findes ikke i indekset (document not in the index)")
    doc, text = found
    if doc.audience != "public":
        _require_admin_for_internal(request, rt, credentials)
    return {**document_info(doc, rt.service.reader.snapshot), "text": text}
