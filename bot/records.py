"""Audit log, feedback and the index jobs in the shared database (bot/db.py); all survive restarts, and
with PostgreSQL every replica sees what the others wrote.

One engine per Records pools its connections: web workers, Slack handlers and threads share it, and on
SQLite a connection stays open between answers (closing the last one checkpoints the WAL, which cost each
answer 2–3 ms)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Column, Table, delete, func, insert, or_, select, update

from bot.db import Database, audit, drafts, escalations, feedback, jobs
from bot.models import Answer
from ingest.personal_data import MaskingPolicy, mask_personal_data

DAY_SECONDS = 24 * 60 * 60
log = logging.getLogger(__name__)
# built once: building an INSERT with values() per answer tripled the time of an audit on SQLite
_ADD_AUDIT = insert(audit)


class Purged(NamedTuple):
    """Rows deleted by a purge: answers from the audit log and the feedback on them or as old, and the
    escalations and saved drafts as old (they repeat questions, and a draft greets the inquirer by name)."""

    audit: int
    feedback: int
    escalations: int = 0
    drafts: int = 0


class Records:
    def __init__(self, data_dir: Path, masking: MaskingPolicy | None = None, url: str | None = None) -> None:
        """`url` None: the SQLite file in `data_dir`. The database is migrated to the newest schema."""
        self.masking = masking or MaskingPolicy()
        self.database = Database(url, data_dir)
        self.database.upgrade()

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None on a database server."""
        return self.database.path

    def close(self) -> None:
        """Close the pooled connections (at shutdown); a later call opens new ones."""
        self.database.dispose()

    def audit(self, channel: str, answer: Answer) -> int:
        citations = [{"n": c.n, "source": c.source, "section": c.section, "quote": c.quote}
                     for c in answer.citations]
        with self.database.begin() as db:
            result = db.execute(_ADD_AUDIT, {
                "ts": time.time(), "channel": channel, "question": answer.question, "answer": answer.answer,
                "abstained": answer.abstained, "citations": json.dumps(citations, ensure_ascii=False),
                "generator": answer.generator, "answer_json": answer.model_dump_json()})
            return int(result.inserted_primary_key[0])

    def answer(self, audit_id: int) -> Answer | None:
        """The whole Answer given under this audit id (Slack's buttons carry only the id)."""
        with self.database.begin() as db:
            stored = db.execute(select(audit.c.answer_json).where(audit.c.id == audit_id)).scalar()
        return Answer.model_validate_json(stored) if stored else None

    def feedback(self, channel: str, question: str, rating: int, comment: str = "",
                 audit_id: int | None = None, user: str | None = None) -> int:
        if rating not in (1, -1):
            raise ValueError("rating skal være 1 (👍) eller -1 (👎) (rating must be 1 or -1)")
        with self.database.begin() as db:
            result = db.execute(insert(feedback), {
                "ts": time.time(), "channel": channel, "audit_id": audit_id, "question": self._masked(question),
                "rating": rating, "comment": self._masked(comment), "user": user})
            return int(result.inserted_primary_key[0])

    def _masked(self, text: str) -> str:
        """What a user typed, with personal data masked as in the documents."""
        return mask_personal_data(text, self.masking)[0]

    def purge(self, days: float) -> Purged:
        """Delete answers older than `days`, and with them the feedback on them and feedback as old
        (it repeats the question): no feedback is left pointing at a deleted answer. On SQLite the freed
        pages are overwritten (secure_delete) and then copied from the WAL into the file, so the questions
        don't linger in either."""
        cutoff = time.time() - days * DAY_SECONDS
        old_answers = select(audit.c.id).where(audit.c.ts < cutoff)
        with self.database.begin() as db:
            purged_feedback = db.execute(delete(feedback).where(
                or_(feedback.c.ts < cutoff, feedback.c.audit_id.in_(old_answers)))).rowcount
            purged_audit = db.execute(delete(audit).where(audit.c.ts < cutoff)).rowcount
            purged_escalations = db.execute(delete(escalations).where(escalations.c.ts < cutoff)).rowcount
            purged_drafts = db.execute(delete(drafts).where(drafts.c.updated < cutoff)).rowcount
        if self.database.is_sqlite:
            with self.database.engine.connect() as db:  # outside a transaction, which would hold the WAL
                busy = db.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
            if busy:
                log.warning("audit purge: the database is in use; deleted rows leave the WAL at its next checkpoint")
        return Purged(purged_audit, purged_feedback, purged_escalations, purged_drafts)

    def _newest(self, table: Table, column: Column, limit: int) -> list[dict]:
        """The rows of `table` with the highest `column` first."""
        with self.database.begin() as db:
            rows = db.execute(select(table).order_by(column.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def recent_audit(self, limit: int = 50) -> list[dict]:
        return self._newest(audit, audit.c.id, limit)

    def recent_feedback(self, limit: int = 50) -> list[dict]:
        return self._newest(feedback, feedback.c.id, limit)

    # --- index jobs (bot/runtime.py) -------------------------------------------------------------------

    def save_job(self, row: dict) -> None:
        """Insert or update a job by its id; only its one runner writes it, so the two steps can't race."""
        with self.database.begin() as db:
            if not db.execute(update(jobs).where(jobs.c.id == row["id"]).values(**row)).rowcount:
                db.execute(insert(jobs).values(**row))

    def job(self, job_id: str) -> dict | None:
        with self.database.begin() as db:
            row = db.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return dict(row) if row else None

    def jobs(self, limit: int) -> list[dict]:
        """The newest jobs first."""
        return self._newest(jobs, jobs.c.submitted_at, limit)

    def fail_unfinished_jobs(self, reason: str, states: tuple[str, ...] = ("queued", "running")) -> int:
        """Mark the jobs a stopped runner left in `states` as failed; returns how many."""
        with self.database.begin() as db:
            return db.execute(update(jobs).where(jobs.c.state.in_(states))
                              .values(state="failed", error=reason, finished_at=time.time())).rowcount

    def queued_jobs(self) -> list[dict]:
        """Jobs waiting for the runner (submitted by replicas), oldest first."""
        with self.database.begin() as db:
            rows = db.execute(select(jobs).where(jobs.c.state == "queued")
                              .order_by(jobs.c.submitted_at)).mappings().all()
        return [dict(r) for r in rows]

    def claim_job(self, job_id: str, started_at: float) -> bool:
        """Move a queued job to running; False when it was cancelled or claimed meanwhile. The update is
        conditional on the state, so of two claims one wins."""
        with self.database.begin() as db:
            return db.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.state == "queued",
                                                 jobs.c.cancel_requested.is_(False))
                              .values(state="running", started_at=started_at)).rowcount == 1

    def request_cancel(self, job_id: str) -> bool:
        """Ask the runner (another process) to cancel an unfinished job; False when it has finished."""
        with self.database.begin() as db:
            return db.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.state.in_(("queued", "running")))
                              .values(cancel_requested=True)).rowcount == 1

    # --- escalations to experts (bot/slack/escalate.py) -----------------------------------------------

    def escalate(self, audit_id: int, question: str, reason: str, asker: str, channel: str,
                 thread_ts: str) -> int | None:
        """Record a question sent to the experts; None when this answer was escalated before (once each,
        whichever replica is asked)."""
        with self.database.begin() as db:
            result = db.execute(self.database.insert_ignoring_duplicates(escalations), {
                "ts": time.time(), "audit_id": audit_id, "question": self._masked(question), "reason": reason,
                "asker": asker, "asker_channel": channel, "asker_ts": thread_ts, "state": "open"})
            if not result.rowcount:
                return None
            return int(db.execute(select(escalations.c.id).where(escalations.c.audit_id == audit_id)).scalar())

    def is_escalated(self, audit_id: int) -> bool:
        with self.database.begin() as db:
            return db.execute(select(escalations.c.id).where(escalations.c.audit_id == audit_id)).first() is not None

    def posted_to_experts(self, escalation_id: int, channel: str, ts: str) -> None:
        with self.database.begin() as db:
            db.execute(update(escalations).where(escalations.c.id == escalation_id)
                       .values(expert_channel=channel, expert_ts=ts))

    def escalation(self, escalation_id: int) -> dict | None:
        with self.database.begin() as db:
            row = db.execute(select(escalations).where(escalations.c.id == escalation_id)).mappings().first()
        return dict(row) if row else None

    def escalation_in_thread(self, channel: str, thread_ts: str) -> dict | None:
        """The escalation whose message in the experts' channel starts this thread."""
        with self.database.begin() as db:
            row = db.execute(select(escalations).where(escalations.c.expert_channel == channel,
                                                       escalations.c.expert_ts == thread_ts)).mappings().first()
        return dict(row) if row else None

    def expert_replied(self, escalation_id: int, reply: str, user: str, masking: MaskingPolicy) -> str:
        """Store an expert's reply (personal data masked by `masking`); returns it as stored. The first
        reply answers the escalation; a later one replaces its text (the expert corrected it)."""
        masked = mask_personal_data(reply, masking)[0]
        with self.database.begin() as db:
            db.execute(update(escalations).where(escalations.c.id == escalation_id).values(
                state="answered", reply=masked, reply_user=user,
                answered_at=func.coalesce(escalations.c.answered_at, time.time())))
        return masked

    def saved_as_source(self, escalation_id: int, source: str) -> None:
        with self.database.begin() as db:
            db.execute(update(escalations).where(escalations.c.id == escalation_id).values(source=source))

    def escalations(self, limit: int = 200) -> list[dict]:
        """The newest escalations first, open and answered."""
        return self._newest(escalations, escalations.c.id, limit)

    def declined(self, limit: int = 500) -> list[dict]:
        """The newest declined questions (the gaps in the knowledge), with their audit ids."""
        with self.database.begin() as db:
            rows = db.execute(select(audit.c.id, audit.c.ts, audit.c.channel, audit.c.question)
                              .where(audit.c.abstained.is_(True)).order_by(audit.c.id.desc()).limit(limit))
            return [dict(r) for r in rows.mappings().all()]

    def doubted(self, limit: int = 200) -> list[dict]:
        """The newest 👎 with their comments."""
        with self.database.begin() as db:
            rows = db.execute(select(feedback).where(feedback.c.rating == -1)
                              .order_by(feedback.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def answer_counts(self) -> tuple[int, int]:
        """Answers in the audit log, and how many of them declined."""
        with self.database.begin() as db:
            total = db.execute(select(func.count()).select_from(audit)).scalar() or 0
            declined = db.execute(select(func.count()).select_from(audit).where(audit.c.abstained.is_(True))).scalar()
        return int(total), int(declined or 0)

    # --- the inquiry team's drafts (bot/web/api.py) ----------------------------------------------------

    def save_draft(self, draft_id: str, draft_json: str) -> None:
        """Insert or update a draft; an edit of an approved draft makes it a draft again."""
        now = time.time()
        with self.database.begin() as db:
            if not db.execute(update(drafts).where(drafts.c.id == draft_id).values(
                    draft_json=draft_json, updated=now, status="draft", approved_role=None,
                    approved_at=None)).rowcount:
                db.execute(insert(drafts).values(id=draft_id, created=now, updated=now, draft_json=draft_json,
                                                 status="draft"))

    def draft(self, draft_id: str) -> dict | None:
        with self.database.begin() as db:
            row = db.execute(select(drafts).where(drafts.c.id == draft_id)).mappings().first()
        return dict(row) if row else None

    def drafts(self, limit: int = 200) -> list[dict]:
        """The newest drafts first."""
        return self._newest(drafts, drafts.c.updated, limit)

    def approve_draft(self, draft_id: str, role: str) -> bool:
        with self.database.begin() as db:
            return db.execute(update(drafts).where(drafts.c.id == draft_id).values(
                status="approved", approved_role=role, approved_at=time.time())).rowcount == 1

    def draft_saved_as_source(self, draft_id: str, source: str) -> None:
        with self.database.begin() as db:
            db.execute(update(drafts).where(drafts.c.id == draft_id).values(source=source))

    def audit_record(self, audit_id: int) -> dict | None:
        """One answer of the audit log, as stored."""
        with self.database.begin() as db:
            row = db.execute(select(audit.c.id, audit.c.ts, audit.c.channel, audit.c.answer_json)
                             .where(audit.c.id == audit_id)).mappings().first()
        return dict(row) if row else None
