"""The Chroma collection behind LangChain's Chroma vector store: embedded by default, a Chroma
server when `PRAKTIKBOT_CHROMA_URL` is set. Writes go in batches; the collection records the model.

Each index generation names the collection its vectors are in. An ingest adds to the collection in
service; a rebuild fills a new one beside it (`<collection>--<8 hex>`), so the old one keeps serving
until the new generation is published (blue/green)."""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlparse

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from ingest.embeddings import VectorEmbeddings
from ingest.settings import IndexSettings

log = logging.getLogger(__name__)


class IndexUnavailableError(RuntimeError):
    """The vector store can't be reached or opened; the message says what to do."""


# Chroma's registry of embedded clients is not safe when two threads open the first client of a path at
# once (it can raise KeyError): an ingest job and a first question may do just that.
_OPENING = threading.Lock()


def open_client(settings: IndexSettings) -> chromadb.ClientAPI:
    """The embedded Chroma in the data dir, or the Chroma server (checked with a heartbeat)."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not settings.chroma_url:
        path = settings.data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        with _OPENING:
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    url = urlparse(settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise IndexUnavailableError(
            f"PRAKTIKBOT_CHROMA_URL={settings.chroma_url!r} er ikke en http(s)-adresse "
            "(expected e.g. http://127.0.0.1:8001)"
        )
    try:
        client = chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if url.scheme == "https" else 80),
            ssl=url.scheme == "https", settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as exc:  # connection errors come in many types from httpx and chromadb
        raise IndexUnavailableError(
            f"Chroma-serveren på {settings.chroma_url} svarer ikke (Chroma server unreachable: {exc})"
        ) from exc
    return client


@contextmanager
def reachable(settings: IndexSettings) -> Iterator[None]:
    """A Chroma server that went away after it was opened: its client reconnects by itself once it is back."""
    try:
        yield
    except httpx.TransportError as exc:
        raise IndexUnavailableError(f"Chroma-serveren på {settings.chroma_url} svarer ikke; prøv igen om lidt "
                                    f"(the Chroma server does not respond: {exc})") from exc


def new_collection_name(settings: IndexSettings) -> str:
    """A fresh collection for a rebuild, beside the one in service."""
    return f"{settings.collection}--{secrets.token_hex(4)}"


def belongs_to_index(name: str, settings: IndexSettings) -> bool:
    """True for the configured collection and the rebuilds made from it (and for no one else's)."""
    return name == settings.collection or re.fullmatch(rf"{re.escape(settings.collection)}--[0-9a-f]{{8}}",
                                                       name) is not None


class VectorStore:
    """Chunk vectors in one Chroma collection. Ids are chunk ids; documents are chunk texts."""

    def __init__(self, settings: IndexSettings, embeddings: VectorEmbeddings, collection: str | None = None) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.name = collection or settings.collection
        self._client = open_client(settings)
        self._store = self._open()

    def _open(self) -> Chroma:
        return Chroma(
            client=self._client,
            collection_name=self.name,
            embedding_function=self.embeddings,
            collection_metadata={"embeddings": self.embeddings.name, "dimension": self.embeddings.dimension},
            collection_configuration={"hnsw": {"space": "cosine"}},
        )

    @property
    def collection(self) -> chromadb.Collection:
        return self._store._collection

    def recorded_model(self) -> str | None:
        """The embeddings spec that built this collection (None for a new, empty one)."""
        meta = self.collection.metadata or {}
        return meta.get("embeddings") if self.count() else None

    def heartbeat(self) -> None:
        with reachable(self.settings):
            self._client.heartbeat()

    def count(self) -> int:
        return self.collection.count()

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        total, offset, page = self.count(), 0, 5000
        while offset < total:
            ids.update(self.collection.get(include=[], limit=page, offset=offset)["ids"])
            offset += page
        return ids

    def batch_size(self) -> int:
        return max(1, min(256, self._client.get_max_batch_size()))

    def add(self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict],
            check: Callable[[], None] | None = None) -> None:
        """Embed and store, one batch at a time (each batch is one Chroma write); `check` runs before
        each batch and may raise to stop (a time limit, a cancellation)."""
        size = self.batch_size()
        for i in range(0, len(ids), size):
            if check:
                check()
            self._store.add_texts(
                texts=list(texts[i:i + size]), metadatas=list(metadatas[i:i + size]), ids=list(ids[i:i + size])
            )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        size = self.batch_size()
        for i in range(0, len(ids), size):
            self._store.delete(ids=ids[i:i + size])

    def drop_others(self, keep: set[str]) -> list[str]:
        """Delete this index's other collections (rebuilds that were replaced or interrupted); returns
        their names. Collections of other indexes on a shared Chroma server are left alone."""
        dropped = []
        for collection in self._client.list_collections():
            if collection.name not in keep | {self.name} and belongs_to_index(collection.name, self.settings):
                self._client.delete_collection(collection.name)
                dropped.append(collection.name)
        return dropped

    def drop(self) -> None:
        """Delete this collection (a cancelled rebuild's)."""
        self._client.delete_collection(self.name)

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the k nearest chunks (fewer when the collection is smaller)."""
        with reachable(self.settings):
            result = self.collection.query(query_embeddings=[vector.tolist()], n_results=k, include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0],
                                                              strict=True)]
