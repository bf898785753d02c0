"""The admin API (bearer token): the indexed documents, upload, delete and re-ingest.

Files are written into the knowledge dir atomically (temp file + rename), so a re-ingest running at
the same time reads either the old or the new file. Upload doesn't ingest: the admin decides when."""

from __future__ import annotations

import hmac
import logging
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.runtime import Runtime
from bot.web.api import document_info
from bot.web.deps import RuntimeDep
from ingest.documents import SIDECAR_SUFFIX
from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.lock import IndexBusyError
from ingest.reader import IndexMissingError

log = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DISABLED = ("Admin-API er slået fra: sæt PRAKTIKBOT_ADMIN_TOKEN og genstart serveren "
            "(admin API disabled: set PRAKTIKBOT_ADMIN_TOKEN and restart the server)")
_UNSAFE = re.compile(r"[^\w.-]+")
_FOLDER = re.compile(r"^[\w-]+(/[\w-]+){0,3}$")
_bearer = HTTPBearer(auto_error=False, description="PRAKTIKBOT_ADMIN_TOKEN")
_starting = threading.Lock()  # two clicks at once start one background re-ingest, not two


def require_admin(rt: RuntimeDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    token = rt.settings.admin_token
    if not token:
        raise HTTPException(503, DISABLED)
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "manglende eller forkert admin-token (missing or wrong admin token)",
                            headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])


def _ingest_status(request: Request) -> dict:
    """The runtime's progress; also "running" from the moment a background re-ingest is started."""
    status = request.app.state.runtime.ingest_status.as_dict()
    thread: threading.Thread | None = request.app.state.ingest_thread
    return {**status, "running": status["running"] or bool(thread and thread.is_alive())}


@router.get("/documents")
def documents(request: Request, rt: RuntimeDep) -> dict:
    """The indexed documents with chunk counts and dates, and the re-ingest status with its last report."""
    try:
        docs = [document_info(doc) for doc in rt.documents()]
    except IndexMissingError:  # nothing ingested yet: the admin uploads and ingests from here
        docs = []
    return {"documents": docs, "ingest": _ingest_status(request)}


def _target(knowledge_dir: Path, folder: str, filename: str) -> Path:
    name = _UNSAFE.sub("-", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip(".-")
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise HTTPException(422, f"filtypen understøttes ikke; brug {', '.join(SUPPORTED_SUFFIXES)} "
                                 "(unsupported file type)")
    folder = folder.strip().strip("/")
    if folder and not _FOLDER.match(folder):
        raise HTTPException(422, "ugyldig mappe: brug fx procedures eller guidelines/2025 "
                                 "(invalid folder: letters, digits, - and _ separated by /)")
    root = knowledge_dir.resolve()
    target = (root / folder / name).resolve()
    if not target.is_relative_to(root):  # the checks above already exclude this; never write outside
        raise HTTPException(422, "ugyldigt filnavn (invalid file name)")
    return target


@router.post("/documents", status_code=201)
def upload(rt: RuntimeDep, file: Annotated[UploadFile, File(description="txt, md, pdf, docx or html")],
           folder: Annotated[str, Form(description="e.g. procedures")] = "") -> dict:
    """Save a document into the knowledge dir (same name: replaced). Re-ingest to index it."""
    target = _target(rt.settings.knowledge_dir, folder, file.filename or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.upload")  # hidden: ingest skips it
    size = 0
    try:
        with open(temp, "wb") as out:
            while chunk := file.file.read(1024 * 1024):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise HTTPException(413, f"filen er større end {MAX_UPLOAD_BYTES // 2**20} MB "
                                             "(file too large)")
                out.write(chunk)
        if size == 0:
            raise HTTPException(422, "filen er tom (the file is empty)")
        replaced = target.exists()
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    source = target.relative_to(rt.settings.knowledge_dir.resolve()).as_posix()
    return {"source": source, "bytes": size, "replaced": replaced}


@router.delete("/documents/{doc_id}")
def delete(doc_id: str, request: Request, rt: RuntimeDep) -> dict:
    """Remove the file (and its metadata sidecar) and re-ingest that path, so it is no longer cited."""
    found = rt.document_text(doc_id)
    if found is None:
        raise HTTPException(404, "dokumentet findes ikke i indekset (document not in the index)")
    _refuse_when_busy(request)
    path = rt.settings.knowledge_dir / found[0].source
    path.unlink(missing_ok=True)
    path.with_name(path.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
    return {"removed": found[0].source, "report": rt.reindex(paths=[path.resolve()]).as_dict()}


def _refuse_when_busy(request: Request) -> None:
    if _ingest_status(request)["running"]:
        raise IndexBusyError("en indlæsning kører allerede; prøv igen, når den er færdig "
                             "(a re-ingest is already running)")


def _reindex_in_background(rt: Runtime) -> None:
    try:
        rt.reindex()
    except Exception:  # the runtime keeps the error in its status, which the page shows
        log.exception("background re-ingest failed")


@router.post("/ingest", responses={202: {"description": "started (wait=false): poll GET /api/admin/ingest"}})
def ingest(request: Request, rt: RuntimeDep, wait: bool = True):
    """Sync the knowledge dir into the index while answers keep being served; returns the ingest
    report. With wait=false it returns 202 at once and the progress is polled."""
    if wait:
        return rt.reindex().as_dict()  # refuses (409) by itself while another one runs
    with _starting:
        _refuse_when_busy(request)
        thread = threading.Thread(target=_reindex_in_background, args=(rt,), name="reindex", daemon=True)
        request.app.state.ingest_thread = thread
        thread.start()
    return JSONResponse(_ingest_status(request), status_code=202)


@router.get("/ingest")
def ingest_progress(request: Request) -> dict:
    """running, done, total, current document, error, and the last report."""
    return _ingest_status(request)
