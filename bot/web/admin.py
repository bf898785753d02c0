"""The admin API (bearer token): the indexed documents, upload, delete, re-ingest and their jobs.

Files are written into the knowledge dir atomically (temp file + rename) when the request arrives, so
a re-ingest running at the same time reads either the old or the new file. The index work that follows
(re-ingest, ingest of an upload, removal of a deleted file) is a job of the runtime's one worker: the
routes submit it and answer 202 with the job, which GET /api/admin/jobs/{id} follows to done or failed.
An upload is not ingested unless asked (`ingest=true`): by default the admin decides when."""

from __future__ import annotations

import json
import os
import re
import uuid
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.followup import followup
from bot.runtime import Job, JobError, NotTheWriterError, Runtime
from bot.web.api import document_info
from bot.web.auth import require_admin
from bot.web.deps import RuntimeDep
from ingest.documents import RESERVED_NAMES, SIDECAR_SUFFIX, TIMELINE_FILE, is_source_file
from ingest.loaders import SUPPORTED_SUFFIXES, DocumentError, ZipLimits, check_zip
from ingest.reader import IndexMissingError
from ingest.timeline import MAX_BYTES as MAX_TIMELINE_BYTES
from ingest.timeline import parse_timeline

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_NAME_BYTES = 120  # far below the 255 bytes a file name may have, leaving room for the sidecar suffix
_UNSAFE = re.compile(r"[^\w.-]+")
_FOLDER = re.compile(r"^[\w-]{1,60}(/[\w-]{1,60}){0,3}$")
_TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm"}


router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])


# --- documents and files -----------------------------------------------------------------------------

def _ingest_status(rt: Runtime) -> dict:
    """The progress of the running job, or the outcome of the last one; "running" also while jobs wait."""
    status = rt.ingest_status.as_dict()
    pending = rt.pending()
    return {**status, "running": status["running"] or pending > 0, "pending": pending}


def _accepted(payload: dict, job: Job) -> JSONResponse:
    return JSONResponse({**payload, "job": job.as_dict()}, status_code=202,
                        headers={"Location": f"/api/admin/jobs/{job.id}"})


@router.get("/documents")
def documents(rt: RuntimeDep) -> dict:
    """The indexed documents with chunk counts and dates; files in the knowledge dir that are not in the
    index (e.g. an upload that failed to ingest, with the reason) so they can be deleted; and the
    re-ingest status with its last report."""
    try:
        snapshot = rt.service.reader.snapshot
        docs = [document_info(doc, snapshot) for doc in rt.documents()]
    except IndexMissingError:  # nothing ingested yet: the admin uploads and ingests from here
        docs = []
    indexed = {d["source"] for d in docs}
    root = rt.settings.knowledge_dir.resolve()
    failures = {f["path"]: f["error"] for f in (rt.ingest_status.report or {}).get("failed", [])}
    files = [{"source": source, "error": failures.get(source)}
             for path in sorted(root.rglob("*")) if is_source_file(path)
             and not any(part.startswith(".") for part in path.relative_to(root).parts)
             and (source := path.relative_to(root).as_posix()) not in indexed]
    return {"documents": docs, "not_indexed": files, "ingest": _ingest_status(rt)}


def _safe_name(filename: str) -> str:
    """The upload's file name, made safe: no path, no odd characters, short enough for any file system."""
    raw = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if raw.startswith(".") or raw.lower().endswith(SIDECAR_SUFFIX):
        raise HTTPException(422, "skjulte filer og metadatafiler kan ikke uploades "
                                 "(hidden files and metadata sidecars can't be uploaded)")
    name = _UNSAFE.sub("-", raw).strip(".-")
    suffix = Path(name).suffix
    if suffix.lower() not in SUPPORTED_SUFFIXES:
        raise HTTPException(422, f"filtypen understøttes ikke; brug {', '.join(SUPPORTED_SUFFIXES)} "
                                 "(unsupported file type)")
    stem = name[:-len(suffix)].encode()[:MAX_NAME_BYTES - len(suffix)].decode(errors="ignore").rstrip(".-")
    if not stem:
        raise HTTPException(422, "ugyldigt filnavn (invalid file name)")
    if (stem + suffix).lower() in RESERVED_NAMES:
        raise HTTPException(422, f"navnet {stem + suffix} er forbeholdt vidensmappens vejledning og er ikke "
                                 "et dokument (reserved name: not a document)")
    return stem + suffix


def _target(knowledge_dir: Path, folder: str, filename: str) -> Path:
    name = _safe_name(filename)
    folder = folder.strip().strip("/")
    if folder and not _FOLDER.match(folder):
        raise HTTPException(422, "ugyldig mappe: brug fx procedures eller guidelines/2025 "
                                 "(invalid folder: letters, digits, - and _ separated by /)")
    root = knowledge_dir.resolve()
    target = (root / folder / name).resolve()
    if not target.is_relative_to(root):  # the checks above already exclude this; never write outside
        raise HTTPException(422, "ugyldigt filnavn (invalid file name)")
    if target.exists() and not is_source_file(target):
        raise HTTPException(422, "navnet tilhører noget, der ikke er et dokument, og det erstattes ikke "
                                 "(the name belongs to something that is not a document; not replaced)")
    return target


def _content_error(path: Path, suffix: str, zip_limits: ZipLimits) -> str | None:
    """Why the file's content is not what its extension says (or is a zip bomb), or None when it is."""
    kind = suffix.lstrip(".").upper()
    if suffix == ".pdf":
        with open(path, "rb") as handle:
            return None if handle.read(4) == b"%PDF" else f"filen er ikke en PDF (the content is not a {kind})"
    if suffix == ".docx":
        try:
            check_zip(path, zip_limits)
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except DocumentError as exc:
            return str(exc)
        return None if "word/document.xml" in names else f"filen er ikke et Word-dokument (the content is not a {kind})"
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return f"filen er ikke UTF-8-tekst (the content is not UTF-8 text, as a {kind} must be)"
    return f"filen indeholder binære data (binary content, not {kind} text)" if "\x00" in text else None


def _stage(upload: UploadFile, root: Path, suffix: str, zip_limits: ZipLimits) -> tuple[Path, int]:
    """Stream the upload into a hidden temp file (ingest skips it) and check its size and content."""
    temp = root / f".upload-{uuid.uuid4().hex}.tmp"
    size = 0
    try:
        with open(temp, "wb") as out:
            while chunk := upload.file.read(1024 * 1024):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise HTTPException(413, f"filen er større end {MAX_UPLOAD_BYTES // 2**20} MB "
                                             "(file too large)")
                out.write(chunk)
        if size == 0:
            raise HTTPException(422, "filen er tom (the file is empty)")
        if problem := _content_error(temp, suffix.lower(), zip_limits):
            raise HTTPException(422, problem)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, size


def writer_only(rt: RuntimeDep) -> None:
    """Files are changed by the process that owns the knowledge dir; a replica says where that is."""
    if not rt.writer:
        raise NotTheWriterError()


@router.post("/documents", status_code=201, dependencies=[Depends(writer_only)],
             responses={202: {"description": "saved; with ingest=true the ingest job to follow"}})
def upload(rt: RuntimeDep, file: Annotated[UploadFile, File(description="txt, md, pdf, docx or html")],
           folder: Annotated[str, Form(description="e.g. procedures")] = "",
           ingest: Annotated[bool, Form(description="ingest it right after saving")] = False):
    """Save a document into the knowledge dir (same name: replaced). Its content must match its type.
    With ingest=true it is ingested by a job (202); otherwise re-ingest to index it (201)."""
    root = rt.settings.knowledge_dir.resolve()
    target = _target(root, folder, file.filename or "")
    settings = rt.settings
    zip_limits = ZipLimits(settings.max_uncompressed_bytes, settings.max_compression_ratio)
    temp, size = _stage(file, root, target.suffix, zip_limits)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        replaced = target.exists()
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    source = target.relative_to(root).as_posix()
    saved = {"source": source, "bytes": size, "replaced": replaced}
    if not ingest:
        return saved
    return _accepted(saved, rt.submit("upload", paths=[target], source=source))


def _remove(rt: Runtime, source: str) -> JSONResponse:
    """Remove the file and its sidecar now, and queue taking it out of the index (never refused)."""
    path = rt.settings.knowledge_dir.resolve() / source
    path.unlink(missing_ok=True)
    path.with_name(path.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
    return _accepted({"removed": source}, rt.submit("delete", paths=[path], source=source))


@router.delete("/documents/{doc_id}", status_code=202, dependencies=[Depends(writer_only)])
def delete(doc_id: str, rt: RuntimeDep) -> JSONResponse:
    """Remove an indexed document's file (and metadata sidecar); a job takes it out of the index."""
    found = rt.document_text(doc_id)
    if found is None:
        raise HTTPException(404, "dokumentet findes ikke i indekset (document not in the index)")
    return _remove(rt, found[0].source)


@router.delete("/files/{source:path}", status_code=202, dependencies=[Depends(writer_only)])
def delete_file(source: str, rt: RuntimeDep) -> JSONResponse:
    """Remove a file by its path in the knowledge dir, indexed or not (e.g. an upload that failed to
    ingest), with its sidecar; a job takes it out of the index if it was there."""
    root = rt.settings.knowledge_dir.resolve()
    parts = Path(source).parts
    if ("\x00" in source or not parts or any(len(p.encode()) > 255 or p.startswith(".") for p in parts)
            or source.lower().endswith(SIDECAR_SUFFIX) or Path(source).name.lower() in RESERVED_NAMES
            or Path(source).suffix.lower() not in SUPPORTED_SUFFIXES):
        raise HTTPException(422, "stien er ikke et dokument i vidensmappen (the path is not a document)")
    path = (root / source).resolve()
    if not path.is_relative_to(root):
        raise HTTPException(422, "stien ligger uden for vidensmappen (path outside the knowledge dir)")
    source = path.relative_to(root).as_posix()
    try:
        indexed = any(doc.source == source for doc in rt.documents())
    except IndexMissingError:
        indexed = False
    if not path.is_file() and not indexed:
        raise HTTPException(404, "filen findes ikke i vidensmappen (no such file)")
    return _remove(rt, source)


# --- follow-up: escalations, gaps, doubted answers --------------------------------------------------

@router.get("/followup")
def follow_up(rt: RuntimeDep) -> dict:
    """Open escalations first, the declined questions grouped by meaning (the gaps in the knowledge), 👎
    with their comments, and the figures; entries carry their audit id (GET /api/admin/audit/{id})."""
    return followup(rt.records, rt.service.reader.embeddings)


@router.get("/audit/{audit_id}")
def audit_record(audit_id: int, rt: RuntimeDep) -> dict:
    row = rt.records.audit_record(audit_id)
    if row is None:
        raise HTTPException(404, "svaret findes ikke i revisionsloggen (no such audit record)")
    answer = json.loads(row["answer_json"]) if row["answer_json"] else None
    return {"id": row["id"], "ts": row["ts"], "channel": row["channel"], "answer": answer}


# --- the rules timeline --------------------------------------------------------------------------------

class TimelineText(BaseModel):
    yaml: str = Field(max_length=MAX_TIMELINE_BYTES, description="the whole rules-timeline.yaml")


@router.get("/timeline")
def timeline(rt: RuntimeDep) -> dict:
    """The rules timeline as the admins keep it (the file's text, on the writer) and as it is in service
    (validated entries), with the last ingest's reason if the file didn't validate."""
    path = rt.settings.knowledge_dir / TIMELINE_FILE
    try:
        entries = [change.as_dict() for change in rt.service.reader.snapshot.timeline]
    except IndexMissingError:
        entries = []
    failure = next((f["error"] for f in (rt.ingest_status.report or {}).get("failed", [])
                    if f["path"] == TIMELINE_FILE), None)
    return {"writable": rt.writer,
            "yaml": path.read_text(encoding="utf-8") if rt.writer and path.is_file() else None,
            "entries": entries, "error": failure}


@router.put("/timeline", status_code=202, dependencies=[Depends(writer_only)])
def save_timeline(body: TimelineText, rt: RuntimeDep) -> JSONResponse:
    """Validate and save the timeline (422 with the entry and the reason when it doesn't validate); a job
    puts it in service."""
    entries = parse_timeline(body.yaml)
    path = rt.settings.knowledge_dir / TIMELINE_FILE
    temp = path.with_name(f".{TIMELINE_FILE}.{uuid.uuid4().hex}")
    try:
        temp.write_text(body.yaml, encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return _accepted({"entries": len(entries)}, rt.submit("timeline", paths=[path], source=TIMELINE_FILE))


# --- re-ingest and jobs ---------------------------------------------------------------------------------

@router.post("/ingest", responses={202: {"description": "queued (wait=false): follow the job"}})
def reingest(rt: RuntimeDep, wait: bool = True):
    """Sync the knowledge dir into the index while answers keep being served. With wait=true (default)
    it returns the ingest report when the job is done, or its error (409 when another process writes
    the index); with wait=false it returns 202 and the job at once."""
    if wait:
        return rt.reindex().as_dict()
    job = rt.submit("reingest")
    return _accepted(_ingest_status(rt), job)


@router.get("/ingest")
def ingest_progress(rt: RuntimeDep) -> dict:
    """running (also while jobs wait), pending jobs, done, total, current document, error, and the
    last report."""
    return _ingest_status(rt)


@router.get("/jobs")
def jobs(rt: RuntimeDep) -> dict:
    """The recent jobs, newest first."""
    return {"jobs": [job.as_dict() for job in rt.jobs()]}


def _job(rt: Runtime, job_id: str) -> Job:
    try:
        return rt.job(job_id)
    except JobError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/jobs/{job_id}")
def job_status(job_id: str, rt: RuntimeDep) -> dict:
    """queued, running, done (with the report) or failed (with the reason)."""
    return _job(rt, job_id).as_dict()


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: str, rt: RuntimeDep) -> dict:
    """A queued job is cancelled at once (it never runs); a running ingest stops at its next document."""
    job = _job(rt, job_id)
    try:
        return rt.cancel(job.id).as_dict()
    except JobError as exc:
        raise HTTPException(409, str(exc)) from exc
