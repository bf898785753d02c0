"""What a running Praktikbot holds, shared by the web app and the Slack bot in one process:
settings, the answer service over the index, the audit/feedback records, and re-ingest.

Re-ingest runs in the serving process (the single writer of an embedded index). While it runs,
questions keep being answered from the published generation; the reader picks up the new
generation on the next question after it is published."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer import AnswerService
from bot.models import Answer, Turn
from bot.records import Records
from bot.settings import Settings
from ingest.lock import IndexBusyError
from ingest.reader import IndexReader
from ingest.snapshot import DocumentRecord
from ingest.sync import IngestReport, Progress, last_report, sync


@dataclass
class IngestStatus:
    """Progress of the re-ingest running now (or the last one), for the admin page and Slack."""

    running: bool = False
    done: int = 0
    total: int = 0
    current: str = ""
    error: str | None = None
    report: dict | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict:
        return {"running": self.running, "done": self.done, "total": self.total, "current": self.current,
                "error": self.error, "report": self.report}


class Runtime:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.records = Records(self.settings.data_dir)
        self.ingest_status = IngestStatus(report=last_report(self.settings.data_dir))
        self._service: AnswerService | None = None
        self._service_lock = threading.Lock()
        # called with (answer, channel) after every answer, whatever the channel (e.g. web metrics)
        self.answer_observers: list[Callable[[Answer, str], None]] = []

    @property
    def service(self) -> AnswerService:
        """The answer service, opened on first use (raises IndexMissingError before any ingest)."""
        if self._service is None:
            with self._service_lock:
                if self._service is None:
                    self._service = AnswerService(self.settings, IndexReader(self.settings))
        return self._service

    def ask(self, question: str, history: list[Turn] | None = None, channel: str = "api",
            audiences: frozenset[str] | None = None) -> tuple[Answer, int]:
        """Answer and write the audit log; returns the answer and its audit id (for feedback).
        `audiences` limits the sources (None: all, for staff)."""
        answer = self.service.ask(question, history, audiences)
        audit_id = self.records.audit(channel, answer)
        for observe in self.answer_observers:
            observe(answer, channel)
        return answer, audit_id

    def reindex(self, paths: list[Path] | None = None, progress: Progress | None = None) -> IngestReport:
        """Sync the knowledge dir into the index; refuses (IndexBusyError) while another one runs."""
        status = self.ingest_status

        def track(done: int, total: int, current: str) -> None:
            status.done, status.total, status.current = done, total, current
            if progress:
                progress(done, total, current)

        with status.lock:
            if status.running:  # a second caller must not reset the progress of the running one
                raise IndexBusyError("en indlæsning kører allerede; prøv igen, når den er færdig "
                                     "(a re-ingest is already running)")
            status.running, status.error, status.done, status.total = True, None, 0, 0
        try:
            report = sync(self.settings, paths=paths, progress=track)
        except Exception as exc:
            status.error = str(exc)
            raise
        finally:
            status.running = False
        status.report = report.as_dict()
        return report

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
        return {**stats, "last_ingest": report.get("finished_at"), "ingest_running": self.ingest_status.running}
