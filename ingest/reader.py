"""Read side of the index, for the bot: dense and lexical search over the published generation.

The reader holds one generation in memory (`ingest.generations`: read from Chroma, BM25 built here) and
swaps in a newer one whole, so every query sees one consistent version. It notices a new generation at
once when this process published it, and otherwise within `PRAKTIKBOT_INDEX_REFRESH_SECONDS` when it
`watch`es (serving processes do): a background thread loads the new generation while answers keep coming
from the old one. Dense hits the generation doesn't know (chunks being added by a running ingest, or kept
for others in their grace period) are ignored. Each generation names its Chroma collection: after a
rebuild (blue/green) queries move to the new one with it."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable

import numpy as np

from ingest.embeddings import VectorEmbeddings, load_embeddings
from ingest.generations import GenerationError, Generations, publications
from ingest.settings import IndexSettings
from ingest.snapshot import ChunkRecord, Snapshot
from ingest.sync import ModelMismatchError, model_mismatch_message
from ingest.terms import terms
from ingest.vectorstore import IndexUnavailableError, VectorStore

log = logging.getLogger(__name__)


class IndexMissingError(RuntimeError):
    """Nothing has been ingested into this index yet."""


class IndexReader:
    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self.embeddings: VectorEmbeddings = load_embeddings(settings.embeddings)
        self.generations = Generations(settings)
        self._lock = threading.Lock()  # one refresh at a time
        self._stores_lock = threading.Lock()
        self._seen = publications()
        self._snapshot = self._load()
        self._stores: dict[str, VectorStore] = {}
        self.store_for(self._snapshot)

    def _load(self, previous: Snapshot | None = None) -> Snapshot:
        snapshot = self.generations.load(previous)
        if snapshot is None:
            where = self.settings.chroma_url or self.settings.data_dir
            raise IndexMissingError(
                f"der er intet indeks i {where}; kør `praktikbot ingest` først (no index yet: run `praktikbot ingest`)"
            )
        if snapshot.embeddings != self.embeddings.name:
            raise ModelMismatchError(model_mismatch_message(snapshot.embeddings, self.embeddings.name))
        return snapshot

    @property
    def snapshot(self) -> Snapshot:
        """The generation in service; one this process has just published replaces it first."""
        if publications() != self._seen:
            self.refresh()
        return self._snapshot

    def refresh(self) -> bool:
        """Load and swap in a newer published generation; True when one was swapped in. When it can't be
        read, the one in service stays and the next refresh tries again."""
        with self._lock:
            self._seen = publications()
            try:
                if self.generations.current() in (None, self._snapshot.generation):
                    return False
                snapshot = self._load(self._snapshot)
                self.store_for(snapshot)
            except (GenerationError, IndexUnavailableError, ModelMismatchError, ValueError, KeyError) as exc:
                log.warning("keeping index generation %d: the new one can't be read yet (%s)",
                            self._snapshot.generation, exc)
                return False
            self._snapshot = snapshot
            log.info("index generation %d in service", snapshot.generation)
            return True

    def watch(self) -> threading.Thread:
        """Look for a new generation every `index_refresh_seconds` in a background thread, for as long
        as this reader is in use (the thread holds it only weakly)."""
        ref = weakref.ref(self)
        interval = self.settings.index_refresh_seconds

        def poll() -> None:
            stop = threading.Event()
            while not stop.wait(interval):
                reader = ref()
                if reader is None:
                    return
                try:
                    reader.refresh()
                except Exception:  # a poller that dies silently would leave a replica serving old answers
                    log.exception("looking for a new index generation failed; trying again")
                del reader

        thread = threading.Thread(target=poll, name="index-refresh", daemon=True)
        thread.start()
        return thread

    def store_for(self, snapshot: Snapshot) -> VectorStore:
        """The collection that holds `snapshot`'s vectors (opened once; the last two are kept)."""
        name = snapshot.collection or self.settings.collection
        with self._stores_lock:
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
        """The k nearest chunks of `snapshot`. The collection may also hold chunks of other generations
        (being added, or retired and in their grace period): when those crowd out the k, ask for more.
        A small generation holds its chunk vectors and is searched exactly, in memory."""
        if snapshot.chunk_vectors is not None:
            scores = snapshot.chunk_vectors @ vector
            order = np.argsort(-scores)[:k]
            return [(snapshot.chunks[snapshot.chunk_order[i]], float(scores[i])) for i in order]
        wanted = k + 8
        while True:
            hits = self.store_for(snapshot).query(vector, wanted)
            found = [(snapshot.chunks[cid], score) for cid, score in hits if cid in snapshot.chunks]
            if len(found) >= k or len(hits) < wanted:
                return found[:k]
            wanted *= 4

    def lexical(self, snapshot: Snapshot, query: str, k: int, related: Callable[[list[str]], list[str]] | None = None,
                related_weight: float = 0.0) -> list[tuple[ChunkRecord, float]]:
        """The k best chunks by BM25; with `related`, the terms it gives for the query's terms (synonyms)
        count too, at `related_weight` of a query term's score."""
        query_terms = terms(query)
        if snapshot.bm25 is None or not query_terms:
            return []
        scores = snapshot.bm25.get_scores(query_terms)
        extra = related(query_terms) if related else []
        if extra and related_weight:
            scores = scores + related_weight * snapshot.bm25.get_scores(extra)
        order = np.argsort(-scores)[:k]
        return [(snapshot.chunks[snapshot.chunk_order[i]], float(scores[i])) for i in order if scores[i] > 0]

    def stats(self) -> dict:
        snap = self.snapshot
        return {"documents": len(snap.documents), "chunks": len(snap.chunks), "generation": snap.generation,
                "embeddings": snap.embeddings}
