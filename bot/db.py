"""The database of what every process of a Praktikbot shares: the audit log, feedback, the Slack event ids
already answered, the index jobs, the questions escalated to experts, and the inquiry team's drafts.

By default it is the SQLite file `praktikbot.sqlite3` in the data dir (one host); with several replicas it
is PostgreSQL (`PRAKTIKBOT_DATABASE_URL=postgresql://…`), so a Slack button that reaches another replica
finds the answer this one gave. The schema is kept by the Alembic revisions in bot/migrations, applied at
start (`Database.upgrade`); they ship in the package, so an installed Praktikbot migrates itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.sql.dml import Insert

SQLITE_FILE = "praktikbot.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 7_391_451  # PostgreSQL advisory lock: replicas starting together migrate one at a time
log = logging.getLogger(__name__)

metadata = MetaData()
# ids never come back after a purge (sqlite_autoincrement): an old Slack button must not find a newer answer
audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True), Column("ts", Float, nullable=False),
    Column("channel", Text, nullable=False), Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False), Column("abstained", Boolean, nullable=False),
    Column("citations", Text, nullable=False), Column("generator", Text, nullable=False),
    Column("answer_json", Text),
    sqlite_autoincrement=True,
)
feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True), Column("ts", Float, nullable=False),
    Column("channel", Text, nullable=False), Column("audit_id", Integer),
    Column("question", Text, nullable=False), Column("rating", Integer, nullable=False),
    Column("comment", Text, nullable=False, server_default=""), Column("user", Text),
    sqlite_autoincrement=True,
)
slack_events = Table(
    "slack_events", metadata,
    Column("event_id", Text, primary_key=True), Column("ts", Float, nullable=False),
    Index("slack_events_ts", "ts"),
)
jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True), Column("kind", String(16), nullable=False),
    Column("source", Text), Column("state", String(16), nullable=False),
    Column("submitted_at", Float, nullable=False), Column("started_at", Float), Column("finished_at", Float),
    Column("error", Text), Column("report", Text), Column("cancel_requested", Boolean, nullable=False),
    Column("payload", Text),  # a "source" job's document (path and text), written by the runner
    Index("jobs_submitted_at", "submitted_at"),
)


# a question the bot declined (or a user doubted) sent to the experts' channel, once per answer (audit id)
escalations = Table(
    "escalations", metadata,
    Column("id", Integer, primary_key=True), Column("ts", Float, nullable=False),
    Column("audit_id", Integer, unique=True), Column("question", Text, nullable=False),
    Column("reason", String(16), nullable=False), Column("asker", Text),
    Column("asker_channel", Text), Column("asker_ts", Text),
    Column("expert_channel", Text), Column("expert_ts", Text),
    Column("state", String(16), nullable=False), Column("answered_at", Float),
    Column("reply", Text), Column("reply_user", Text), Column("source", Text),
    Index("escalations_expert_ts", "expert_channel", "expert_ts"),
    sqlite_autoincrement=True,
)
drafts = Table(
    "drafts", metadata,
    Column("id", String(32), primary_key=True), Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False), Column("draft_json", Text, nullable=False),
    Column("status", String(16), nullable=False), Column("approved_role", Text),
    Column("approved_at", Float), Column("source", Text),
)


def normalised_url(url: str) -> str:
    """`url` with PostgreSQL's plain schemes mapped to the psycopg 3 driver (the one installed); a clear
    ValueError for anything else."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(_URL_HELP) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("postgresql+psycopg", "sqlite") or not parsed.database:
        raise ValueError(_URL_HELP)
    return parsed.render_as_string(hide_password=False)


def sqlite_url(path: Path) -> str:
    return URL.create("sqlite", database=str(path)).render_as_string()


_URL_HELP = ("PRAKTIKBOT_DATABASE_URL: skriv postgresql://bruger:kode@vært/database eller sqlite:///sti/fil.sqlite3 "
             "(write postgresql://user:password@host/database or sqlite:///path/file.sqlite3)")


class Database:
    """One engine (a connection pool) on the shared database, migrated to the newest schema."""

    def __init__(self, url: str | None, data_dir: Path | None = None) -> None:
        """`url` None: the SQLite file in `data_dir` (the one Praktikbot has always used)."""
        if url is None:
            if data_dir is None:
                raise ValueError("a database needs a URL or a data dir")
            url = sqlite_url(data_dir / SQLITE_FILE)
        self.url = normalised_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # the pool keeps each connection open: closing SQLite's last connection checkpoints the WAL, which
            # cost every answer 2–3 ms when the audit log opened one per answer
            self.engine: Engine = create_engine(self.url, connect_args={"timeout": 10, "check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)  # a restarted server is reconnected to

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None on a database server."""
        return Path(make_url(self.url).database) if self.is_sqlite else None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction: committed, or rolled back on an error."""
        with self.engine.begin() as connection:
            yield connection

    def insert_ignoring_duplicates(self, table: Table) -> Insert:
        """INSERT … ON CONFLICT DO NOTHING: of concurrent inserts of one key, in any process, one wins."""
        dialect = sqlite if self.is_sqlite else postgresql
        # the rowcount (1: inserted, 0: there already) of an INSERT is kept only when asked for
        return dialect.insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)

    def upgrade(self) -> None:
        """Bring the schema to the newest revision. A SQLite file from before the migrations (its tables
        there, no alembic_version) is adapted by the first revision, keeping its rows. Processes starting
        together take turns: an advisory lock on PostgreSQL, a write lock (BEGIN IMMEDIATE) on SQLite."""
        from alembic import command  # imported here: only a start migrates
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as connection:
            if self.is_sqlite:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()

    def dispose(self) -> None:
        """Close the pooled connections (at shutdown); later calls open new ones."""
        self.engine.dispose()


def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001 (a DB-API connection)
    """WAL lets readers and the writer work at once. In WAL mode synchronous=NORMAL never corrupts the file,
    it may only lose the last commits on a power cut, and spares every answer an fsync. secure_delete
    overwrites deleted rows, so purged questions don't linger in the file."""
    cursor = connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "secure_delete=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
