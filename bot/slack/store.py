"""Answers shown in Slack, kept by audit id in SQLite under the data dir.

A button's value holds at most 2,000 characters, too little for an answer with its passages, so the
buttons ("Vis kilder", "Del i kanalen", 👍/👎) carry the audit id and look the answer up here. Being on
disk, the buttons keep working after a restart (for KEEP_DAYS)."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

from bot.models import Answer

KEEP_DAYS = 90


class AnswerStore:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "slack-answers.sqlite3"
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS answers "
                       "(audit_id INTEGER PRIMARY KEY, ts REAL NOT NULL, answer TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def put(self, audit_id: int, answer: Answer) -> None:
        now = time.time()
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (audit_id, now, answer.model_dump_json()))
            db.execute("DELETE FROM answers WHERE ts < ?", (now - KEEP_DAYS * 86400,))

    def get(self, audit_id: int) -> Answer | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT answer FROM answers WHERE audit_id = ?", (audit_id,)).fetchone()
        return Answer.model_validate_json(row[0]) if row else None
