"""What a running Praktikbot holds, shared by the web app and the Slack bot in one process:
settings, the answer service over the index, the audit/feedback records, and the index jobs.

Index work is done as jobs: a re-ingest, the ingest of an uploaded file, the removal of a deleted one.
One runner thread runs them one at a time in the order they came, so none is refused for being at the
same time as another, and each ends as done (with its report) or failed (with the reason). Each job is
stored in the shared database whenever it changes, so the admin API lists it after a restart and on
every replica.

Roles (`role`): in embedded mode one process does everything ("all"). With a Chroma server there is one
"worker", the writer that owns the knowledge dir and runs the jobs, and any number of read-only
"replica"s. A replica queues a re-ingest in the database for the worker (which looks for such jobs every
second) and refuses file changes, which only the worker can make. While a job runs, questions keep being
answered from the published generation; readers swap in the new one when it is published."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.answer import AnswerService
from bot.models import Answer, Turn
from bot.records import Records
from bot.settings import Settings
from ingest.documents import is_source_file_name
from ingest.reader import IndexMissingError, IndexReader
from ingest.snapshot import DocumentRecord
from ingest.sync import IngestReport, last_report, sync

log = logging.getLogger(__name__)
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ROLES = ("all", "replica", "worker")
POLL_SECONDS = 1.0  # how often the worker looks in the database for jobs replicas queued (and cancels)
REINDEX_WAIT_SECONDS = 3600.0  # how long a replica waits for the worker to finish a re-ingest it queued
KEPT_JOBS = 200  # finished jobs kept in memory, and the jobs GET /api/admin/jobs lists
CANCELLED = "annulleret af en administrator (cancelled by an administrator)"
INTERRUPTED = ("afbrudt: Praktikbot blev stoppet, før jobbet var færdigt "
               "(interrupted: Praktikbot stopped before the job finished)")


class JobError(RuntimeError):
    """A job can't be found or can't be cancelled; the message says why."""


class JobCancelled(RuntimeError):
    """The job was cancelled before it finished."""


class JobFailedError(RuntimeError):
    """A job another process ran failed; the message is its reason."""


class NotTheWriterError(RuntimeError):
    """This process is a read-only replica: files are changed through the worker."""

    def __init__(self) -> None:
        super().__init__("denne proces er en skrivebeskyttet replika: upload og sletning sker via worker-processen "
                         "(`praktikbot worker`, samme sti og token) (this replica is read-only: send uploads and "
                         "deletions to the worker, same path and token)")


@dataclass
class Job:
    """One piece of index work. `kind` is reingest (the whole knowledge dir, or `paths`), upload (the
    ingest of an uploaded file), delete (taking a removed file out of the index), timeline (putting a
    saved rules timeline in service) or source (writing a document given in `payload` — an expert's answer,
    an approved letter — and ingesting it; any replica may queue one, as it touches no file of its own).
    Its state only moves forward: queued → running → done | failed; a cancelled job is failed with the
    reason."""

    kind: str
    paths: list[Path] | None = None
    source: str | None = None  # the knowledge-relative file it concerns; None: the whole knowledge dir
    payload: dict | None = None  # a "source" job's document: {"path": knowledge-relative, "text": ...}
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = QUEUED
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: IngestReport | None = None
    report: dict | None = None  # the result as stored, also for a job read back from the database
    error: str | None = None
    exception: Exception | None = field(default=None, repr=False)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def cancellable(self) -> bool:
        """A delete has removed its file already; its index work must follow, so it can't be cancelled."""
        return self.kind != "delete" and self.state in (QUEUED, RUNNING)

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "source": self.source, "state": self.state,
                "submitted_at": self.submitted_at, "started_at": self.started_at, "finished_at": self.finished_at,
                "report": self.report, "error": self.error,
                "cancel_requested": self.cancel.is_set(), "cancellable": self.cancellable}

    def row(self) -> dict:
        """The job as stored in the database's jobs table."""
        return {"id": self.id, "kind": self.kind, "source": self.source, "state": self.state,
                "submitted_at": self.submitted_at, "started_at": self.started_at, "finished_at": self.finished_at,
                "error": self.error, "report": None if self.report is None else json.dumps(self.report),
                "cancel_requested": self.cancel.is_set(),
                "payload": None if self.payload is None else json.dumps(self.payload, ensure_ascii=False)}

    @classmethod
    def stored(cls, row: dict) -> Job:
        """A job read back from the database (run by another process, or before a restart)."""
        job = cls(kind=row["kind"], source=row["source"], id=row["id"], state=row["state"],
                  submitted_at=row["submitted_at"], started_at=row["started_at"], finished_at=row["finished_at"],
                  report=None if row["report"] is None else json.loads(row["report"]), error=row["error"],
                  payload=None if row.get("payload") is None else json.loads(row["payload"]))
        if row["cancel_requested"]:
            job.cancel.set()
        if job.state in (DONE, FAILED):
            job.finished.set()
        return job


@dataclass
class IngestStatus:
    """Progress of the job running now (or the last one), for the admin page and Slack."""

    running: bool = False
    done: int = 0
    total: int = 0
    current: str = ""
    error: str | None = None
    report: dict | None = None
    job: str | None = None  # id of the job running now or last
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict:
        return {"running": self.running, "done": self.done, "total": self.total, "current": self.current,
                "error": self.error, "report": self.report, "job": self.job}


class Runtime:
    def __init__(self, settings: Settings | None = None, role: str = "all", watch_index: bool = False) -> None:
        """`watch_index`: look for new generations in the background (a long-running server does)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self.role = role
        self.watch_index = watch_index
        self.settings = settings or Settings()
        self.records = Records(self.settings.data_dir, self.settings.masking, self.settings.database_url)
        self.ingest_status = IngestStatus(report=last_report(self.settings.data_dir))
        self._service: AnswerService | None = None
        self._service_lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # in submission order
        self._jobs_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._runner: threading.Thread | None = None
        # called with (answer, channel) after every answer, whatever the channel (e.g. web metrics)
        self.answer_observers: list[Callable[[Answer, str], None]] = []

    @property
    def service(self) -> AnswerService:
        """The answer service, opened on first use (raises IndexMissingError before any ingest)."""
        if self._service is None:
            with self._service_lock:
                if self._service is None:
                    reader = IndexReader(self.settings)
                    if self.watch_index:
                        reader.watch()
                    self._service = AnswerService(self.settings, reader)
        return self._service

    @property
    def writer(self) -> bool:
        """This process runs the index jobs (embedded mode, or the worker)."""
        return self.role != "replica"

    def ask(self, question: str, history: list[Turn] | None = None, channel: str = "api",
            audiences: frozenset[str] | None = None, as_of: str | None = None) -> tuple[Answer, int]:
        """Answer and write the audit log; returns the answer and its audit id (for feedback).
        `audiences` limits the sources (None: all, for staff); `as_of` answers for the rules of a date."""
        answer = self.service.ask(question, history, audiences, as_of)
        audit_id = self.records.audit(channel, answer)
        for observe in self.answer_observers:
            observe(answer, channel)
        return answer, audit_id

    # --- jobs ----------------------------------------------------------------------------------------

    def submit(self, kind: str, paths: list[Path] | None = None, source: str | None = None,
               payload: dict | None = None) -> Job:
        """Queue index work; returns the job to poll. A re-ingest of the whole knowledge dir that is
        still waiting already covers a second one, so that one is returned instead of queueing twice.
        A replica queues re-ingests for the worker and refuses the rest (NotTheWriterError)."""
        if not self.writer:
            return self._submit_to_worker(kind, paths, source, payload)
        with self._jobs_lock:
            if kind == "reingest" and paths is None:
                waiting = next((j for j in self._jobs.values()
                                if j.state == QUEUED and j.kind == kind and j.paths is None), None)
                if waiting:
                    return waiting
            job = Job(kind=kind, paths=paths, source=source, payload=payload)
            self._jobs[job.id] = job
            self._forget_old_jobs()
            self._start()
            self._save(job)
        self._queue.put(job)
        return job

    def _submit_to_worker(self, kind: str, paths: list[Path] | None, source: str | None,
                          payload: dict | None) -> Job:
        if kind == "source":
            job = Job(kind=kind, source=source, payload=payload)
            self.records.save_job(job.row())
            return job
        if kind != "reingest" or paths is not None:
            raise NotTheWriterError()
        waiting = next((row for row in self.records.queued_jobs() if row["kind"] == kind and row["source"] is None
                        and not row["cancel_requested"]), None)
        if waiting:
            return Job.stored(waiting)
        job = Job(kind=kind)
        self.records.save_job(job.row())  # a replica's job exists only in the database: an error is the caller's
        return job

    def start(self) -> None:
        """Start the job runner now rather than at the first job: the worker does, so that the jobs
        replicas queue are run without waiting for one of its own."""
        with self._jobs_lock:
            self._start()

    def _start(self) -> None:
        if self._runner is None:
            self._fail_unfinished_jobs()
            self._runner = threading.Thread(target=self._work, name="index-jobs", daemon=True)
            self._runner.start()

    def job(self, job_id: str) -> Job:
        """A job of this process, or one read from the database (from before a restart)."""
        with self._jobs_lock:
            found = self._jobs.get(job_id)
        if found is None:
            row = self.records.job(job_id)
            found = Job.stored(row) if row else None
        if found is None:
            raise JobError("jobbet findes ikke (no such job)")
        return found

    def jobs(self) -> list[Job]:
        """The recent jobs from the database, newest first; this process's own as they are now."""
        rows = self.records.jobs(KEPT_JOBS)
        with self._jobs_lock:
            return [self._jobs.get(row["id"]) or Job.stored(row) for row in rows]

    def _save(self, job: Job) -> None:
        """Store the job as it is now. A database that fails is logged: the job still runs, and this
        process still reports it."""
        try:
            self.records.save_job(job.row())
        except SQLAlchemyError:
            log.exception("could not store index job %s (%s) in the database", job.id, job.state)

    def _fail_unfinished_jobs(self) -> None:
        """Before this runtime runs its first job: jobs a stopped runner left running never finish, so
        they are failed with the reason (there is one runner of index jobs). Embedded, the queued ones were
        in the stopped process's memory and go too; the worker runs the queued ones (replicas queue jobs)."""
        states = (RUNNING,) if self.role == "worker" else (QUEUED, RUNNING)
        try:
            if failed := self.records.fail_unfinished_jobs(INTERRUPTED, states):
                log.warning("%d index jobs left unfinished by a stopped Praktikbot are marked failed", failed)
        except SQLAlchemyError:
            log.exception("could not mark the unfinished index jobs of a stopped Praktikbot as failed")

    def pending(self) -> int:
        """Jobs queued or running (on a replica: in the database, run by the worker)."""
        if not self.writer:
            return sum(1 for j in self.jobs() if j.state in (QUEUED, RUNNING))
        with self._jobs_lock:
            return sum(1 for j in self._jobs.values() if j.state in (QUEUED, RUNNING))

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job (it never runs) or stop a running ingest before its next document
        (nothing of it is published)."""
        job = self.job(job_id)
        with self._jobs_lock:
            if job.state in (DONE, FAILED):
                raise JobError(f"jobbet er allerede afsluttet ({job.state}) (the job has already finished)")
            if job.kind == "delete":
                raise JobError("en sletning kan ikke annulleres: filen er allerede fjernet "
                               "(a deletion can't be cancelled: the file is already removed)")
            if job.id not in self._jobs:  # the worker's: it sees the request within a second
                if not self.records.request_cancel(job.id):
                    raise JobError("jobbet er allerede afsluttet (the job has already finished)")
                job.cancel.set()
                return job
            job.cancel.set()
            if job.state == QUEUED:
                self._finish(job, None, JobCancelled(CANCELLED))
            else:
                self._save(job)
        return job

    def reindex(self) -> IngestReport:
        """Re-ingest the knowledge dir and wait for it (Slack's `/praktik reindex`, POST
        /api/admin/ingest?wait=true); raises the job's error when it failed."""
        job = self.submit("reingest")
        if not self.writer:
            return self._wait_for_worker(job)
        job.finished.wait()
        if job.exception is not None:
            raise job.exception
        assert job.result is not None  # a job done without an error has its report
        return job.result

    def _wait_for_worker(self, job: Job) -> IngestReport:
        deadline = time.monotonic() + REINDEX_WAIT_SECONDS
        while job.state not in (DONE, FAILED):
            if time.monotonic() > deadline:
                raise JobError("worker-processen har ikke kørt jobbet endnu; følg det under jobs "
                               f"(the worker has not run job {job.id} yet)")
            time.sleep(POLL_SECONDS / 2)
            job = self.job(job.id)
        if job.state == FAILED or job.report is None:
            raise JobFailedError(job.error or "genindlæsningen fejlede (the re-ingest failed)")
        return IngestReport(**job.report)

    def _forget_old_jobs(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.state in (DONE, FAILED)]
        for job_id in finished[:max(0, len(finished) - KEPT_JOBS)]:
            del self._jobs[job_id]

    def _work(self) -> None:
        """The runner thread: one job at a time, in the order they were submitted; the worker also runs
        the jobs replicas queued in the database."""
        while True:
            try:
                job = self._queue.get(timeout=POLL_SECONDS if self.role == "worker" else None)
            except queue.Empty:
                job = self._claim_queued()
                if job is None:
                    continue
            else:
                with self._jobs_lock:
                    if job.state != QUEUED:  # cancelled while it waited
                        continue
                    job.state, job.started_at = RUNNING, time.time()
                self._save(job)
            with self.ingest_status.lock:
                status = self.ingest_status
                status.running, status.job, status.error = True, job.id, None
                status.done, status.total, status.current = 0, 0, ""
            report, error = None, None
            try:
                report = self._run(job)
            except Exception as exc:  # recorded as the job's failure, shown on the page and in Slack
                log.warning("index job %s (%s) failed: %s", job.id, job.kind, exc, exc_info=True)
                error = exc
            if report is not None and report.cancelled:
                error = JobCancelled(CANCELLED)
            with self._jobs_lock:
                self._finish(job, report, error)

    def _claim_queued(self) -> Job | None:
        """The oldest job a replica queued, now running here; one cancelled while queued is failed."""
        try:
            for row in self.records.queued_jobs():
                with self._jobs_lock:
                    if row["id"] in self._jobs:  # this process's own, on its way through the queue
                        continue
                job = Job.stored(row)
                if row["kind"] in ("upload", "delete", "timeline") and row["source"]:
                    job.paths = [self.settings.knowledge_dir / row["source"]]
                if row["cancel_requested"]:
                    with self._jobs_lock:
                        self._finish(job, None, JobCancelled(CANCELLED))
                    continue
                started = time.time()
                if self.records.claim_job(job.id, started):
                    job.state, job.started_at = RUNNING, started
                    with self._jobs_lock:
                        self._jobs[job.id] = job
                    return job
        except SQLAlchemyError:
            log.exception("could not look for queued index jobs in the database; trying again")
        return None

    def _finish(self, job: Job, report: IngestReport | None, error: Exception | None) -> None:
        """Store the outcome, then mark the job finished: nobody sees it done before its report is there."""
        status = self.ingest_status
        with status.lock:
            job.result, job.exception = report, error
            job.report = report.as_dict() if report is not None else None
            job.error = str(error) if error else None
            if status.job == job.id:
                if report is not None:
                    status.report = job.report
                status.error = job.error
                status.running = False
            job.state, job.finished_at = (FAILED if error else DONE), time.time()
        self._save(job)
        job.finished.set()

    def _run(self, job: Job) -> IngestReport | None:
        status = self.ingest_status

        checked = time.monotonic()

        def track(done: int, total: int, current: str) -> None:
            nonlocal checked
            status.done, status.total, status.current = done, total, current
            if self.role == "worker" and time.monotonic() - checked > POLL_SECONDS:
                checked = time.monotonic()  # a replica may have asked to cancel, through the database
                if (row := self.records.job(job.id)) and row["cancel_requested"]:
                    job.cancel.set()

        if job.kind == "delete" and job.source not in self._indexed_sources():
            return None  # the file never made it into the index: removing it was all there was to do
        if job.kind == "source":
            job.paths = [self._write_source(job.payload or {})]
        return sync(self.settings, paths=job.paths, progress=track, cancel=job.cancel)

    def _write_source(self, payload: dict) -> Path:
        """Write a document a "source" job carries into the knowledge dir (replacing the one at that path:
        saving the same answer again updates it). The path must stay inside the knowledge dir."""
        root = self.settings.knowledge_dir.resolve()
        path = (root / str(payload.get("path", ""))).resolve()
        if not path.is_relative_to(root) or path == root or not is_source_file_name(path.name):
            raise ValueError(f"ugyldig sti til en kilde (invalid source path): {payload.get('path')!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        try:
            temp.write_text(str(payload.get("text", "")), encoding="utf-8")
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return path

    def save_source(self, path: str, text: str) -> Job:
        """Queue writing and ingesting a document (`path` relative to the knowledge dir)."""
        return self.submit("source", source=path, payload={"path": path, "text": text})

    def _indexed_sources(self) -> set[str]:
        try:
            return {doc.source for doc in self.documents()}
        except IndexMissingError:
            return set()

    # --- the index ------------------------------------------------------------------------------------

    def documents(self) -> list[DocumentRecord]:
        return sorted(self.service.reader.snapshot.documents.values(), key=lambda d: d.source)

    def document_text(self, doc_id: str) -> tuple[DocumentRecord, str] | None:
        """A document's cleaned text: what citations' offsets point into."""
        snapshot = self.service.reader.snapshot
        doc = snapshot.documents.get(doc_id)
        return (doc, snapshot.texts[doc_id]) if doc else None

    def status(self) -> dict:
        stats = self.service.reader.stats()
        report = self.ingest_status.report or {}
        return {**stats, "last_ingest": report.get("finished_at"), "ingest_running": self.pending() > 0}
