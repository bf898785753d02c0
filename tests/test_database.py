"""The shared database (bot/db.py) on both backends: the SQLite file of one host and a real PostgreSQL
(tests/postgres.py). Replicas are two Records or two Runtimes on one URL, as two processes would be."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, update

from bot.db import SQLITE_FILE, audit, feedback, normalised_url, sqlite_url
from bot.models import Answer
from bot.records import DAY_SECONDS, Records
from bot.runtime import DONE, FAILED, INTERRUPTED, RUNNING, Job, Runtime
from bot.settings import Settings
from bot.slack.seen import SeenEvents
from bot.web.app import create_app

KLV_QUESTION = "Bruger forvaltningen KLV-listerne fra RAR?"
TOKEN = "a-long-admin-token-for-the-tests"
CPR = "010203-1234"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of each backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "one-database" / SQLITE_FILE)
    create: Callable[[], str] = request.getfixturevalue("postgres_database")
    return create()


@pytest.fixture
def replicas(database_url: str, tmp_path: Path) -> tuple[Records, Records]:
    """Two Records on one database, each with a data dir of its own."""
    pair = (Records(tmp_path / "a", url=database_url), Records(tmp_path / "b", url=database_url))
    yield pair
    for records in pair:
        records.close()


def _answer(question: str) -> Answer:
    return Answer(question=question, language="da", answer="Ingen kilder.", abstained=True, generator="extractive")


def _age(records: Records, table, row_id: int, days: float) -> None:  # noqa: ANN001 (a Table)
    with records.database.begin() as db:
        db.execute(update(table).where(table.c.id == row_id).values(ts=time.time() - days * DAY_SECONDS))


def test_an_answer_one_replica_gave_is_found_whole_by_another(shared_index: Settings, database_url: str):
    """What a Slack button does: it carries only the audit id, and the click may reach another replica."""
    settings = shared_index.model_copy(update={"database_url": database_url})
    replica_a, replica_b = Runtime(settings), Runtime(settings)
    answer, audit_id = replica_a.ask(KLV_QUESTION, channel="slack")
    assert answer.citations, "the demo corpus answers this question"

    assert replica_b.records.answer(audit_id) == answer
    feedback_id = replica_b.records.feedback("slack", answer.question, -1, audit_id=audit_id, user="U1")
    stored = next(f for f in replica_a.records.recent_feedback() if f["id"] == feedback_id)
    assert (stored["audit_id"], stored["user"], stored["rating"]) == (audit_id, "U1", -1)
    assert replica_a.records.answer(audit_id + 1) is None  # no answer under an id not given
    for replica in (replica_a, replica_b):
        replica.records.close()


def test_feedback_is_stored_with_typed_personal_data_masked(replicas: tuple[Records, Records]):
    records, other = replicas
    records.feedback("web", f"Hvad gælder for borgeren med CPR {CPR}?", 1, comment=f"Det er {CPR} igen")
    stored = other.recent_feedback(1)[0]
    assert CPR not in stored["question"] + stored["comment"]
    assert "XXXXXX-XXXX" in stored["question"] and "XXXXXX-XXXX" in stored["comment"]
    with pytest.raises(ValueError, match="rating"):
        records.feedback("web", "Hvad?", 5)
    assert other.recent_feedback(1)[0]["id"] == stored["id"], "a refused rating stores nothing"


def test_purge_deletes_old_answers_and_the_feedback_on_them(replicas: tuple[Records, Records]):
    records, other = replicas
    old, new = records.audit("web", _answer("Hvad hedder borgeren i sag 17?")), records.audit("web", _answer("Nyt?"))
    on_old = records.feedback("web", "Hvad hedder borgeren i sag 17?", -1, audit_id=old)
    on_new = records.feedback("web", "Nyt?", 1, audit_id=new)
    loose = records.feedback("web", "Gammel kommentar", 1)
    _age(records, audit, old, 40)
    _age(records, audit, new, 5)
    _age(records, feedback, loose, 40)

    purged = other.purge(30)  # any replica may purge
    assert (purged.audit, purged.feedback) == (1, 2)
    assert [r["id"] for r in records.recent_audit()] == [new]
    assert [r["id"] for r in records.recent_feedback()] == [on_new]
    assert on_old not in [r["id"] for r in records.recent_feedback()]
    assert records.answer(old) is None and records.answer(new).question == "Nyt?"
    if records.path is not None:  # SQLite: overwritten in the file and out of the WAL, not just unlinked
        stored = b"".join(p.read_bytes() for p in records.path.parent.glob(records.path.name + "*"))
        assert b"borgeren i sag 17" not in stored


def test_purged_ids_are_never_given_again(replicas: tuple[Records, Records]):
    """An old Slack button carries an audit id: after a purge it must find nothing, not a newer answer."""
    records, _ = replicas
    last = records.audit("web", _answer("Gammelt spørgsmål?"))
    _age(records, audit, last, 40)
    records.purge(30)
    assert records.audit("web", _answer("Nyt spørgsmål?")) > last


def test_an_event_is_claimed_once_across_replicas(replicas: tuple[Records, Records]):
    seen = [SeenEvents(records.database) for records in replicas]
    deliveries = [(replica, f"Ev{n}") for n in range(20) for replica in seen for _ in range(2)]
    with ThreadPoolExecutor(6) as pool:
        claims = list(pool.map(lambda d: (d[1], d[0].claim(d[1])), deliveries))
    assert sorted(event for event, first in claims if first) == sorted(f"Ev{n}" for n in range(20))


def test_jobs_are_stored_and_a_restarted_runtime_lists_them(make_index, database_url: str):
    settings = make_index(admin_token=TOKEN, database_url=database_url)
    before = Runtime(settings)
    job = before.submit("reingest")
    assert job.finished.wait(120) and job.state == DONE, job.error
    before.records.close()

    with TestClient(create_app(Runtime(settings))) as client:  # a restart, or another replica
        headers = {"Authorization": f"Bearer {TOKEN}"}
        listed = client.get("/api/admin/jobs", headers=headers).json()["jobs"]
        shown = client.get(f"/api/admin/jobs/{job.id}", headers=headers).json()
        missing = client.get("/api/admin/jobs/nosuchjob", headers=headers)
    assert listed[0]["id"] == job.id
    assert shown["state"] == DONE and shown["report"] == job.report and shown["report"]["documents"] > 0
    assert shown["finished_at"] >= shown["started_at"] >= shown["submitted_at"]
    assert missing.status_code == 404 and missing.json()["detail"]


def test_a_job_left_running_by_a_stopped_runtime_is_failed_with_the_reason(make_index, database_url: str):
    settings = make_index(database_url=database_url)
    stopped = Runtime(settings)
    left = Job(kind="reingest", state=RUNNING, started_at=time.time())
    stopped.records.save_job(left.row())
    stopped.records.close()

    restarted = Runtime(settings)
    assert restarted.job(left.id).state == RUNNING  # reading alone changes nothing (a replica only reads)
    job = restarted.submit("reingest")  # the runner starts
    assert job.finished.wait(120) and job.state == DONE, job.error
    interrupted = restarted.job(left.id)
    assert interrupted.state == FAILED and interrupted.error == INTERRUPTED
    assert [j.id for j in restarted.jobs()] == [job.id, left.id]
    restarted.records.close()


_OLD_SCHEMA = """
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, channel TEXT NOT NULL, question TEXT NOT NULL,
    answer TEXT NOT NULL, abstained INTEGER NOT NULL, citations TEXT NOT NULL, generator TEXT NOT NULL{answer_json});
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, channel TEXT NOT NULL, audit_id INTEGER,
    question TEXT NOT NULL, rating INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '', user TEXT);
CREATE TABLE slack_events (event_id TEXT PRIMARY KEY, ts REAL NOT NULL);
"""


@pytest.mark.parametrize("answer_json", [False, True], ids=["before-full-answers", "before-migrations"])
def test_an_old_sqlite_file_keeps_its_rows(tmp_path: Path, answer_json: bool):
    """The file of a Praktikbot from before the migrations (with no alembic_version) is adapted in place."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with closing(sqlite3.connect(data_dir / SQLITE_FILE)) as db, db:
        db.executescript(_OLD_SCHEMA.format(answer_json=", answer_json TEXT" if answer_json else ""))
        old = db.execute("INSERT INTO audit (ts, channel, question, answer, abstained, citations, generator) "
                         "VALUES (?, 'web', 'Gammelt spørgsmål?', 'Ingen kilder.', 1, '[]', 'extractive')",
                         (time.time(),)).lastrowid
        db.execute("INSERT INTO feedback (ts, channel, audit_id, question, rating, user) "
                   "VALUES (?, 'slack', ?, 'Gammelt spørgsmål?', -1, 'U1')", (time.time(), old))
        db.execute("INSERT INTO slack_events VALUES ('EvOld', ?)", (time.time(),))

    for _ in range(2):  # the first start adapts the file, the second finds it current
        records = Records(data_dir)
        assert [(r["id"], r["question"]) for r in records.recent_audit()][-1] == (old, "Gammelt spørgsmål?")
        assert [(r["audit_id"], r["user"]) for r in records.recent_feedback()][-1] == (old, "U1")
        assert records.answer(old) is None  # the whole answer was not kept then
        assert not SeenEvents(records.database).claim("EvOld")
        new = records.audit("web", _answer("Nyt spørgsmål?"))
        assert new > old and records.answer(new).question == "Nyt spørgsmål?"
        records.save_job(Job(kind="reingest").row())
        records.close()
    with closing(sqlite3.connect(data_dir / SQLITE_FILE)) as db:
        assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == 3
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2


def test_the_database_url_is_checked_and_plain_postgresql_urls_use_the_installed_driver():
    settings = Settings(_env_file=None, database_url="postgresql://praktikbot:hemmelig@db:5432/praktikbot")
    assert settings.database_url == "postgresql+psycopg://praktikbot:hemmelig@db:5432/praktikbot"
    with pytest.raises(ValueError, match="PRAKTIKBOT_DATABASE_URL"):
        Settings(_env_file=None, database_url="mysql://db/praktikbot")


def test_the_default_database_is_the_sqlite_file_in_the_data_dir(tmp_path: Path):
    records = Records(tmp_path / "data")
    audit_id = records.audit("web", _answer("Hvor gemmes svaret?"))
    records.close()
    with closing(sqlite3.connect(tmp_path / "data" / SQLITE_FILE)) as db:
        assert db.execute("SELECT question FROM audit WHERE id = ?", (audit_id,)).fetchone() == ("Hvor gemmes svaret?",)


def test_db_upgrade_migrates_the_configured_database_or_says_why_not(database_url: str, tmp_path: Path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRAKTIKBOT_")}
    environment.update(PRAKTIKBOT_DATA_DIR=str(tmp_path / "data"))
    upgrade = [sys.executable, "-m", "bot", "db", "upgrade"]
    done = subprocess.run(upgrade, env={**environment, "PRAKTIKBOT_DATABASE_URL": database_url}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    engine = create_engine(normalised_url(database_url))
    assert {"audit", "feedback", "slack_events", "jobs"} <= set(inspect(engine).get_table_names())
    engine.dispose()

    unreachable = "postgresql://praktikbot@127.0.0.1:1/praktikbot"  # nothing listens on port 1
    failed = subprocess.run(upgrade, env={**environment, "PRAKTIKBOT_DATABASE_URL": unreachable}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "databasen kunne ikke opdateres" in failed.stderr
