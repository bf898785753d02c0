"""Audit log and feedback in SQLite under the data dir; both survive restarts.

Each call opens its own connection and closes it again (sqlite3's `with connection` only commits), so
web workers, Slack handlers and threads can share it without leaking file handles."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from bot.models import Answer
from ingest.personal_data import MaskingPolicy, mask_personal_data

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, channel TEXT NOT NULL, question TEXT NOT NULL,
    answer TEXT NOT NULL, abstained INTEGER NOT NULL, citations TEXT NOT NULL, generator TEXT NOT NULL,
    answer_json TEXT);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, channel TEXT NOT NULL, audit_id INTEGER,
    question TEXT NOT NULL, rating INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '', user TEXT);
"""
DAY_SECONDS = 24 * 60 * 60
log = logging.getLogger(__name__)


class Purged(NamedTuple):
    """Rows deleted by a purge: answers from the audit log and the feedback on them or as old."""

    audit: int
    feedback: int


class Records:
    def __init__(self, data_dir: Path, masking: MaskingPolicy | None = None) -> None:
        self.masking = masking or MaskingPolicy()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "praktikbot.sqlite3"
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(audit)")}
            if "answer_json" not in columns:  # an audit log from before the full answer was kept
                db.execute("ALTER TABLE audit ADD COLUMN answer_json TEXT")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, in a transaction: committed, or rolled back on an error.

        Each thread keeps one connection open until close(): opening and closing one per answer would
        make SQLite checkpoint the WAL at every close, which cost each answer 2–3 ms."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)  # closed by close()
            db.row_factory = sqlite3.Row
            # in WAL mode, NORMAL never corrupts the file; it only may lose the last commits on a power cut,
            # and it spares every answer an fsync
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._opened_lock:
                self._opened.append(db)
        with db:
            yield db

    def close(self) -> None:
        """Close every thread's connection (at shutdown); a later call opens a new one."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()

    def audit(self, channel: str, answer: Answer) -> int:
        citations = [{"n": c.n, "source": c.source, "section": c.section, "quote": c.quote}
                     for c in answer.citations]
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO audit (ts, channel, question, answer, abstained, citations, generator, answer_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), channel, answer.question, answer.answer, int(answer.abstained),
                 json.dumps(citations, ensure_ascii=False), answer.generator, answer.model_dump_json()),
            )
            return int(cursor.lastrowid)

    def answer(self, audit_id: int) -> Answer | None:
        """The whole Answer given under this audit id (Slack's buttons carry only the id)."""
        with self._connect() as db:
            row = db.execute("SELECT answer_json FROM audit WHERE id = ?", (audit_id,)).fetchone()
        return Answer.model_validate_json(row["answer_json"]) if row and row["answer_json"] else None

    def feedback(self, channel: str, question: str, rating: int, comment: str = "",
                 audit_id: int | None = None, user: str | None = None) -> int:
        if rating not in (1, -1):
            raise ValueError("rating skal være 1 (👍) eller -1 (👎) (rating must be 1 or -1)")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (ts, channel, audit_id, question, rating, comment, user) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (time.time(), channel, audit_id, self._masked(question), rating,
                                                 self._masked(comment), user),
            )
            return int(cursor.lastrowid)

    def _masked(self, text: str) -> str:
        """What a user typed, with personal data masked as in the documents."""
        return mask_personal_data(text, self.masking)[0]

    def purge(self, days: float) -> Purged:
        """Delete answers older than `days`, and with them the feedback on them and feedback as old
        (it repeats the question): no feedback is left pointing at a deleted answer. secure_delete
        overwrites the freed pages, so the questions don't linger in the file."""
        cutoff = time.time() - days * DAY_SECONDS
        with self._connect() as db:
            db.execute("PRAGMA secure_delete=ON")
            feedback = db.execute(
                "DELETE FROM feedback WHERE ts < ? OR audit_id IN (SELECT id FROM audit WHERE ts < ?)",
                (cutoff, cutoff)).rowcount
            audit = db.execute("DELETE FROM audit WHERE ts < ?", (cutoff,)).rowcount
        with self._connect() as db:  # copy the overwritten pages from the WAL into the file, and empty it
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            log.warning("audit purge: the database is in use; deleted rows leave the WAL at its next checkpoint")
        return Purged(audit, feedback)

    def recent_audit(self, limit: int = 50) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def recent_feedback(self, limit: int = 50) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]
