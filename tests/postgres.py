"""A real PostgreSQL for the tests, started from Debian's `postgresql` package (`make test` installs it).

One server per session in a temp dir, on a free port, with its unix socket in that dir; each test gets a
database of its own. PostgreSQL refuses to run as root, so as root it runs as the package's `postgres`
user. A server that can't be started fails the tests that need it, with the reason: never a silent skip."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

USER = "praktikbot"


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        pytest.fail("PostgreSQL er ikke installeret (PostgreSQL is not installed): run `make test`, or "
                    "`apt-get install postgresql`", pytrace=False)
    return Path(found[-1]).parent


def _as_server_user(command: list[str]) -> list[str]:
    """As root: run `command` as the unprivileged `postgres` user the package creates."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        server_log = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        pytest.fail(f"PostgreSQL kunne ikke {what} (PostgreSQL could not {what}): {done.stderr or done.stdout}"
                    f"\n{server_log}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a running server's maintenance database; the server is stopped after the session."""
    bin_dir = _binaries()
    # not under pytest's temp dir: as root that is private to root, and the server user must reach it
    root = Path(tempfile.mkdtemp(prefix="praktikbot-postgres-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
          "--locale=C", "--no-sync"], "oprette en klynge (initialise a cluster)")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
         "starte (start)", log)
    try:
        yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_server: str) -> Callable[[], str]:
    """Creates a new, empty database on the session's server; returns its postgresql:// URL."""

    def create() -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_server, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return postgres_server.rsplit("/", 1)[0] + "/" + name

    return create
