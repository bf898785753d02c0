"""Which Slack events have been handled, in the shared database (bot/db.py).

Slack delivers an event again when it got no quick 200 (with X-Slack-Retry-Num; in Socket Mode with
retry_attempt), always with the same event_id, and behind a load balancer the retry may reach another
replica. So the claim is an INSERT … ON CONFLICT DO NOTHING into the shared database: of any number of
deliveries, in any number of processes, exactly one claims the event and answers it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database, slack_events, sqlite_url

KEEP_SECONDS = 24 * 60 * 60  # Slack retries within minutes; a day is ample, older ids are forgotten
log = logging.getLogger(__name__)


class SeenEvents:
    def __init__(self, database: Database | Path) -> None:
        """`database`: the shared one (`Records.database`), or a SQLite file of its own, migrated here."""
        if isinstance(database, Path):
            database = Database(sqlite_url(database))
            database.upgrade()
        self.database = database
        self._claim = database.insert_ignoring_duplicates(slack_events)

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None on a database server."""
        return self.database.path

    def claim(self, event_id: str, now: float | None = None) -> bool:
        """True for the first delivery of `event_id` (answer it), False for any later one. True as well
        when the database can't be reached: better to risk answering twice than never (logged)."""
        now = time.time() if now is None else now
        try:
            with self.database.begin() as db:
                db.execute(delete(slack_events).where(slack_events.c.ts < now - KEEP_SECONDS))
                return db.execute(self._claim, {"event_id": event_id, "ts": now}).rowcount == 1
        except SQLAlchemyError:
            log.exception("could not record Slack event %s; answering it without the check", event_id)
            return True
