"""Which Slack events have been handled, in the SQLite file of the audit log.

Slack delivers an event again when it got no quick 200 (with X-Slack-Retry-Num; in Socket Mode with
retry_attempt), always with the same event_id, and behind a load balancer the retry may reach another
replica. So the claim is an INSERT OR IGNORE into the shared file: of any number of deliveries, in any
number of processes, exactly one claims the event and answers it."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

KEEP_SECONDS = 24 * 60 * 60  # Slack retries within minutes; a day is ample, older ids are forgotten
_SCHEMA = """
CREATE TABLE IF NOT EXISTS slack_events (event_id TEXT PRIMARY KEY, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS slack_events_ts ON slack_events (ts);
"""


class SeenEvents:
    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def claim(self, event_id: str, now: float | None = None) -> bool:
        """True for the first delivery of `event_id` (answer it), False for any later one."""
        now = time.time() if now is None else now
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM slack_events WHERE ts < ?", (now - KEEP_SECONDS,))
            inserted = db.execute("INSERT OR IGNORE INTO slack_events (event_id, ts) VALUES (?, ?)",
                                  (event_id, now)).rowcount
        return inserted == 1
