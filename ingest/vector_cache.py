"""Passage vectors already computed, so an ingest embeds only text it has not embedded before.

Embedding is by far the slowest part of an ingest. The cache is a SQLite file in the data dir, written
only by the ingest that holds the writer lock, keyed by the model (`VectorEmbeddings.model_id`: name,
version and dimension, so one model never gets another's vectors) and the sha256 of the exact text
embedded (after masking). It holds digests and vectors only, never text. It lives beside the index
generations, so it survives `--rebuild`. After each published generation, entries that neither it nor
the previous generation needed are pruned: the cache stays about the size of two generations."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np

from ingest.embeddings import VectorEmbeddings

log = logging.getLogger(__name__)
CACHE_FILE = "vector_cache.sqlite3"
KEEP_GENERATIONS = 2  # the generation in service and the one before it: reverting an edit embeds nothing
_LOOKUP_BATCH = 500  # digests per SELECT, under SQLite's limit on bound parameters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,      -- VectorEmbeddings.model_id
    digest BLOB NOT NULL,     -- sha256 of the exact text embedded
    vector BLOB NOT NULL,     -- float32, model dimension
    used INTEGER NOT NULL,    -- the newest index generation that needed it
    PRIMARY KEY (model, digest)
) WITHOUT ROWID
"""


def text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class VectorCache:
    """One model's view of the cache file. `stamp` marks what is added before a generation is published."""

    def __init__(self, path: Path, model_id: str, dimension: int, stamp: int) -> None:
        self.path = path
        self.model_id = model_id
        self.dimension = dimension
        self.stamp = stamp
        self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        """Open the file; an unreadable one is only a cache, so it is replaced by an empty one (and logged)."""
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            log.warning("the vector cache %s is unreadable (%s); starting an empty one", self.path, exc)
            for suffix in ("", "-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            return self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a crash may lose the newest vectors, never corrupt the file
            db.execute(_SCHEMA)
            db.execute("SELECT count(*) FROM vectors WHERE model = ?", (self.model_id,)).fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        self._db.close()

    def get(self, digests: list[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among `digests`."""
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(digests), _LOOKUP_BATCH):
            batch = digests[i:i + _LOOKUP_BATCH]
            rows = self._db.execute(
                f"SELECT digest, vector FROM vectors WHERE model = ? AND digest IN ({','.join('?' * len(batch))})",
                (self.model_id, *batch))
            for digest, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.size == self.dimension:
                    found[digest] = vector
        return found

    def put(self, digests: list[bytes], vectors: np.ndarray) -> None:
        """Store freshly computed vectors (committed at once: a killed ingest keeps what it embedded)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model, digest, vector, used) VALUES (?, ?, ?, ?)",
                [(self.model_id, d, np.ascontiguousarray(v, dtype=np.float32).tobytes(), self.stamp)
                 for d, v in zip(digests, vectors, strict=True)])

    def retain(self, digests: Iterable[bytes], generation: int) -> int:
        """Mark what the published `generation` needs, and delete what the last KEEP_GENERATIONS
        generations did not need (any model's); returns how many entries were deleted."""
        with self._db:
            self._db.executemany("UPDATE vectors SET used = ? WHERE model = ? AND digest = ?",
                                 ((generation, self.model_id, d) for d in set(digests)))
            # stamps above `generation` come from an index that was since deleted and numbered anew
            deleted = self._db.execute("DELETE FROM vectors WHERE used <= ? OR used > ?",
                                       (generation - KEEP_GENERATIONS, generation)).rowcount
        return deleted


class CachedEmbeddings(VectorEmbeddings):
    """The model behind the cache: only texts the cache lacks reach the model, and what it computes
    is stored. Counts what was embedded and what was reused, for the ingest report."""

    def __init__(self, model: VectorEmbeddings, cache: VectorCache) -> None:
        self.model = model
        self.cache = cache
        self.name = model.name
        self.dimension = model.dimension
        self.embedded = 0
        self.reused = 0

    @property
    def model_id(self) -> str:
        return self.model.model_id

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        digests = [text_digest(t) for t in texts]
        found = self.cache.get(list(dict.fromkeys(digests)))
        missing = {d: t for d, t in zip(digests, texts, strict=True) if d not in found}
        if missing:
            fresh = self.model.embed_passages(list(missing.values()))
            self.cache.put(list(missing), fresh)
            found.update(zip(missing, fresh, strict=True))
        self.embedded += len(missing)
        self.reused += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[d] for d in digests]).astype(np.float32, copy=False)

    def embed_query_array(self, text: str) -> np.ndarray:
        return self.model.embed_query_array(text)

    def retain(self, texts: Iterable[str], generation: int) -> None:
        """After `generation` is published: keep its texts' vectors, prune what no recent generation needs.
        The generation is already in service, so a failure here is logged, not raised: the next ingest
        prunes again."""
        try:
            pruned = self.cache.retain((text_digest(t) for t in texts), generation)
        except sqlite3.Error as exc:
            log.warning("could not prune the vector cache %s: %s", self.cache.path, exc)
            return
        if pruned:
            log.info("pruned %d vectors no recent generation uses from the vector cache", pruned)


@contextmanager
def cached_embeddings(model: VectorEmbeddings, data_dir: Path, stamp: int) -> Iterator[CachedEmbeddings]:
    """`model` with the data dir's vector cache in front of it, for the length of one ingest (which holds
    the writer lock). What it adds is stamped `stamp`, the generation the ingest is expected to publish."""
    with closing(VectorCache(data_dir / CACHE_FILE, model.model_id, model.dimension, stamp)) as cache:
        yield CachedEmbeddings(model, cache)
