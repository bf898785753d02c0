"""One immutable generation of the index, as a reader holds it in memory: the documents, the chunk
texts with their sentence offsets, the sentence vectors and the BM25 index built from the chunks.

Where a generation is kept, and how it is published and read, is `ingest.generations`."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import bm25s
import numpy as np

from ingest.terms import terms
from ingest.timeline import RuleChange

T = TypeVar("T")


@dataclass
class DocumentRecord:
    doc_id: str
    source: str
    title: str
    doc_type: str
    valid_from: str | None
    content_hash: str
    chunk_ids: list[str]
    ingested_at: float
    metadata: dict = field(default_factory=dict)
    audience: str = "internal"  # "public" or "internal" (ingest.documents.AUDIENCES)
    valid_to: str | None = None  # ISO text at the precision written, like valid_from (ingest.dates)
    supersedes: list[str] = field(default_factory=list)  # paths or titles of the versions it replaces


@dataclass
class ChunkRecord:
    chunk_id: str
    doc_id: str
    source: str
    title: str
    doc_type: str
    section: str
    heading: str
    valid_from: str | None
    start: int
    end: int
    text: str
    content_hash: str
    sentences: list[tuple[int, int]]  # offsets into the document text
    sentence_row: int = 0  # first row of this chunk's sentences in `Snapshot.sentence_vectors`
    audience: str = "internal"


@dataclass
class Snapshot:
    embeddings: str
    dimension: int
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
    chunks: dict[str, ChunkRecord] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # doc id → cleaned text
    sentence_vectors: np.ndarray | None = None
    generation: int = 0
    bm25: bm25s.BM25 | None = None
    chunk_order: list[str] = field(default_factory=list)  # BM25 row → chunk id
    # the chunk vectors in chunk_order, held by a small generation only (searched exactly, in memory)
    chunk_vectors: np.ndarray | None = None
    collection: str = ""  # the Chroma collection with this generation's vectors ("" = the configured one)
    timeline: list[RuleChange] = field(default_factory=list)  # the rules timeline (ingest.timeline)
    tokens: dict[str, list[str]] = field(default_factory=dict)  # chunk id → its BM25 terms (reused by the next)

    def sentence_matrix(self, chunk: ChunkRecord) -> np.ndarray:
        assert self.sentence_vectors is not None
        return self.sentence_vectors[chunk.sentence_row: chunk.sentence_row + len(chunk.sentences)]

    def by_source(self) -> dict[str, DocumentRecord]:
        return {doc.source: doc for doc in self.documents.values()}


def per_generation(derive: Callable[[Snapshot], T]) -> Callable[[Snapshot], T]:
    """Compute `derive(snapshot)` once per loaded generation; only the one in service is kept."""
    cache: dict[int, tuple[Snapshot, T]] = {}
    lock = threading.Lock()

    @functools.wraps(derive)
    def cached(snapshot: Snapshot) -> T:
        with lock:
            if id(snapshot) in cache:
                return cache[id(snapshot)][1]
        value = derive(snapshot)
        with lock:
            cache.clear()
            cache[id(snapshot)] = (snapshot, value)  # the snapshot is held so that its id isn't reused
        return value

    return cached


def bm25_text(chunk: ChunkRecord) -> str:
    return f"{chunk.title}\n{chunk.heading}\n{chunk.text}"


def chunk_terms(chunk: ChunkRecord) -> list[str]:
    """What BM25 indexes of a chunk: the stems of its title, heading and text."""
    return terms(bm25_text(chunk)) or ["∅"]


def build_bm25(chunks: list[ChunkRecord], tokens: dict[str, list[str]]) -> bm25s.BM25 | None:
    """BM25 over `chunks` in order, from their terms in `tokens` (filled in for chunks not there yet)."""
    if not chunks:
        return None
    for chunk in chunks:
        if chunk.chunk_id not in tokens:
            tokens[chunk.chunk_id] = chunk_terms(chunk)
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index([tokens[c.chunk_id] for c in chunks], show_progress=False)
    return model
