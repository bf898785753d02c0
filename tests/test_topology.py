"""Server mode as it is deployed, as plain processes: a real `chroma run`, a real PostgreSQL, one
`praktikbot worker` that owns the knowledge dir, and two `praktikbot serve` replicas that have no
knowledge dir and an empty data dir each, so everything they answer from comes through Chroma and
everything they share goes through the database. Slack talks to a fake Slack Web API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED_LETTER, new_site
from tests.test_slack_app import SECRET, FakeSlack, block_texts, buttons, mention, replies_in, send_action, send_event
from tests.test_web_hardening import ChromaServer

TOKEN = "topology-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
STARTUP_SECONDS = 300  # a worker's first ingest embeds the whole demo corpus on 2 cores
PICKUP_SECONDS = 30
KLV_QUESTION = "Bruger forvaltningen KLV-listerne fra RAR?"
NEW_DOCUMENT = """---
title: Procedure for udlån af mødelokaler i jobcentret
type: procedure
valid_from: 2025-02-01
---

# Udlån af mødelokaler

Virksomheder i virksomhedspraktik kan låne jobcentrets mødelokale Havnesalen til opfølgningsmøder.
Havnesalen bookes hos teamleder for virksomhedsservice senest tre hverdage før mødet.
"""
NEW_QUESTION = "Hvor mange hverdage før mødet skal Havnesalen bookes?"


class Process:
    """One `praktikbot` process with its own environment; its log is shown when a test fails."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self.handle = open(log, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, stdout=self.handle,
                                        stderr=subprocess.STDOUT)

    def tail(self) -> str:
        return f"--- {self.name} ---\n" + self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.handle.close()


def _environment(**values: str) -> dict[str, str]:
    """This test's settings only: none of the developer's PRAKTIKBOT_ or SLACK_ variables leak in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PRAKTIKBOT_", "SLACK_"))}
    return {**base, **values}


def _wait_until(check: Callable[[], bool], seconds: float, what: str, processes: list[Process]) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        dead = [p for p in processes if p.process.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(p.tail() for p in processes)
            pytest.fail(f"{what}: {'a process exited' if dead else 'timed out'}\n{logs}", pytrace=False)
        time.sleep(0.3)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _cites(url: str, question: str, source: str) -> bool:
    response = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60)
    return response.status_code == 200 and any(c["source"] == source for c in response.json()["citations"])


@contextmanager
def topology(tmp_path: Path, database_url: str, fake: FakeSlack,
             template: Path) -> Iterator[tuple[str, list[str], list[Process]]]:
    """Chroma, a worker and two replicas; yields the worker's URL, the replicas' URLs and the processes.
    The worker starts with the session's vector cache, as a worker restarted on its volume would: its first
    ingest writes everything to the new Chroma server without embedding the demo corpus again."""
    with ExitStack() as stack:
        chroma = ChromaServer(tmp_path / "chroma-server", _port())
        chroma.start()
        stack.callback(chroma.stop)
        shared = {"PRAKTIKBOT_CHROMA_URL": chroma.url, "PRAKTIKBOT_DATABASE_URL": database_url,
                  "PRAKTIKBOT_ADMIN_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
                  "PRAKTIKBOT_SLACK_API_URL": f"{fake.url}/api", "PRAKTIKBOT_SLACK_USER_RATE_PER_MINUTE": "10000"}
        processes: list[Process] = []
        new_site(tmp_path / "worker", cache_from=template)
        port = _port()
        processes.append(Process("worker", ["worker", "--port", str(port)], _environment(
            **shared, PRAKTIKBOT_KNOWLEDGE_DIR=str(tmp_path / "worker" / "knowledge"),
            PRAKTIKBOT_DATA_DIR=str(tmp_path / "worker" / "data")), tmp_path / "worker.log"))
        worker = f"http://127.0.0.1:{port}"
        stack.callback(processes[-1].stop)
        _wait_until(lambda: _healthy(worker), STARTUP_SECONDS, "the worker's first ingest", processes)
        replicas = []
        for name in ("a", "b"):
            port = _port()
            processes.append(Process(f"replica {name}", ["serve", "--port", str(port)], _environment(
                **shared, PRAKTIKBOT_KNOWLEDGE_DIR=str(tmp_path / name / "no-knowledge-here"),
                PRAKTIKBOT_DATA_DIR=str(tmp_path / name / "data")), tmp_path / f"replica-{name}.log"))
            stack.callback(processes[-1].stop)
            replicas.append(f"http://127.0.0.1:{port}")
        for url in replicas:
            _wait_until(lambda url=url: _healthy(url), STARTUP_SECONDS, f"replica {url} starting", processes)
        yield worker, replicas, processes


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _job_done(base: str, job_id: str) -> Callable[[], bool]:
    def check() -> bool:
        job = httpx.get(f"{base}/api/admin/jobs/{job_id}", headers=ADMIN, timeout=10).json()
        assert job["state"] != "failed", job
        return job["state"] == "done"

    return check


def test_a_worker_and_two_replicas_share_one_index_and_one_database(tmp_path: Path, template_index: Path,
                                                                    postgres_database: Callable[[], str]):
    fake = FakeSlack()
    try:
        with topology(tmp_path, postgres_database(), fake, template_index) as (worker, (a, b), processes):
            # the replicas have no knowledge dir: what they cite comes from Chroma
            for replica in (a, b):
                assert _cites(replica, KLV_QUESTION, SEED_LETTER)

            # an upload through the worker is cited by both replicas, without a restart
            response = httpx.post(f"{worker}/api/admin/documents", headers=ADMIN, timeout=30,
                                  files={"file": ("moedelokaler.md", NEW_DOCUMENT.encode(), "text/markdown")},
                                  data={"folder": "procedures", "ingest": "true"})
            assert response.status_code == 202, response.text
            _wait_until(_job_done(worker, response.json()["job"]["id"]), STARTUP_SECONDS, "the upload's job",
                        processes)
            for replica in (a, b):
                _wait_until(lambda r=replica: _cites(r, NEW_QUESTION, "procedures/moedelokaler.md"),
                            PICKUP_SECONDS, f"{replica} citing the upload", processes)

            # a replica can't change files, and says where to go; a re-ingest it queues is run by the worker
            refused = httpx.post(f"{a}/api/admin/documents", headers=ADMIN, timeout=30,
                                 files={"file": ("x.md", b"# X\n\nTekst.", "text/markdown")})
            assert refused.status_code == 409 and "worker" in refused.json()["detail"]
            queued = httpx.post(f"{b}/api/admin/ingest", params={"wait": "false"}, headers=ADMIN, timeout=30)
            assert queued.status_code == 202, queued.text
            _wait_until(_job_done(b, queued.json()["job"]["id"]), STARTUP_SECONDS, "the replica's re-ingest",
                        processes)
            listed = httpx.get(f"{worker}/api/admin/jobs", headers=ADMIN, timeout=10).json()["jobs"]
            assert queued.json()["job"]["id"] in {job["id"] for job in listed}, "one list of jobs for all"

            # Slack: replica A answers, and a button on that answer is handled by replica B
            channel = "CTOPOLOGY"
            send_event(a, mention(fake, channel, KLV_QUESTION))
            reply = replies_in(fake, channel)[0]
            value = buttons(reply["blocks"])["show_sources"]["value"]
            send_action(b, fake, "show_sources", value, channel)
            opened = fake.wait("views.open", lambda p: bool(p["view"]["blocks"]))[-1]
            assert "ikke at gennemføre valideringen af KLV-listen" in "\n".join(block_texts(opened["view"]["blocks"]))
    finally:
        fake.server.shutdown()
