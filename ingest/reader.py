"""Read side of the index, for the bot: dense and lexical search over the published generation.

The reader follows the `CURRENT` pointer: when another ingest publishes a new generation it loads it
on the next query and swaps it in whole, so every query sees one consistent version. Dense hits that
the generation doesn't know (chunks being added by a running ingest) are ignored. Each generation
names its Chroma collection: after a rebuild (blue/green) queries move to the new one with it."""

from __future__ import annotations

import logging
import threading

import numpy as np

from ingest.embeddings import VectorEmbeddings, load_embeddings
from ingest.settings import IndexSettings
from ingest.snapshot import ChunkRecord, Snapshot, current_generation, load_snapshot
from ingest.sync import model_mismatch_message
from ingest.terms import terms
from ingest.vectorstore import VectorStore

log = logging.getLogger(__name__)


class IndexMissingError(RuntimeError):
    """Nothing has been ingested into this data dir yet."""


class IndexReader:
    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self.embeddings: VectorEmbeddings = load_embeddings(settings.embeddings)
        self._lock = threading.Lock()
        self._snapshot = self._load()
        self._stores: dict[str, VectorStore] = {}
        self.store_for(self._snapshot)

    def _load(self) -> Snapshot:
        snapshot = load_snapshot(self.settings.data_dir)
        if snapshot is None:
            raise IndexMissingError(
                f"der er intet indeks i {self.settings.data_dir}; kør `praktikbot ingest` først "
                "(no index yet: run `praktikbot ingest`)"
            )
        if snapshot.embeddings != self.embeddings.name:
            from ingest.sync import ModelMismatchError

            raise ModelMismatchError(model_mismatch_message(snapshot.embeddings, self.embeddings.name))
        return snapshot

    @property
    def snapshot(self) -> Snapshot:
        """The newest published generation (re-read only when the pointer moved).

        If the new generation can't be read, the one in service stays and the next call tries again."""
        if current_generation(self.settings.data_dir) != self._snapshot.generation:
            with self._lock:
                if current_generation(self.settings.data_dir) != self._snapshot.generation:
                    try:
                        self._snapshot = self._load()
                    except (OSError, ValueError, KeyError) as exc:
                        log.warning("keeping index generation %d: the new one can't be read yet (%s)",
                                    self._snapshot.generation, exc)
        return self._snapshot

    def store_for(self, snapshot: Snapshot) -> VectorStore:
        """The collection that holds `snapshot`'s vectors (opened once; the last two are kept)."""
        name = snapshot.collection or self.settings.collection
        with self._lock:
            if name not in self._stores:
                store = VectorStore(self.settings, self.embeddings, name)
                self._stores = {**dict(list(self._stores.items())[-1:]), name: store}
            return self._stores[name]

    @property
    def store(self) -> VectorStore:
        """The collection of the generation in service."""
        return self.store_for(self.snapshot)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embeddings.embed_query_array(text)

    def dense(self, snapshot: Snapshot, vector: np.ndarray, k: int) -> list[tuple[ChunkRecord, float]]:
        hits = self.store_for(snapshot).query(vector, k + 8)  # a few spare for ids a running ingest is adding
        return [(snapshot.chunks[cid], score) for cid, score in hits if cid in snapshot.chunks][:k]

    def lexical(self, snapshot: Snapshot, query: str, k: int) -> list[tuple[ChunkRecord, float]]:
        query_terms = terms(query)
        if snapshot.bm25 is None or not query_terms:
            return []
        scores = snapshot.bm25.get_scores(query_terms)
        order = np.argsort(-scores)[:k]
        return [(snapshot.chunks[snapshot.chunk_order[i]], float(scores[i])) for i in order if scores[i] > 0]

    def stats(self) -> dict:
        snap = self.snapshot
        return {"documents": len(snap.documents), "chunks": len(snap.chunks), "generation": snap.generation,
                "embeddings": snap.embeddings}
