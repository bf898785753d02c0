"""One immutable generation of the index's own files: the manifest of documents, the chunk texts
with their sentence offsets, the sentence vectors and the BM25 index.

A generation is written to a new folder and published by atomically replacing the `CURRENT` pointer,
so a reader sees either the old generation or the new one, never half of either."""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import bm25s
import numpy as np

from ingest.terms import terms

POINTER = "CURRENT"
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
    collection: str = ""  # the Chroma collection with this generation's vectors ("" = the configured one)

    def sentence_matrix(self, chunk: ChunkRecord) -> np.ndarray:
        assert self.sentence_vectors is not None
        return self.sentence_vectors[chunk.sentence_row: chunk.sentence_row + len(chunk.sentences)]

    def by_source(self) -> dict[str, DocumentRecord]:
        return {doc.source: doc for doc in self.documents.values()}


def per_generation(derive: Callable[[Snapshot], T]) -> Callable[[Snapshot], T]:
    """Compute `derive(snapshot)` once per generation; only the generation in service is kept."""
    cache: dict[int, T] = {}
    lock = threading.Lock()

    @functools.wraps(derive)
    def cached(snapshot: Snapshot) -> T:
        with lock:
            if snapshot.generation in cache:
                return cache[snapshot.generation]
        value = derive(snapshot)
        with lock:
            cache.clear()
            cache[snapshot.generation] = value
        return value

    return cached


def index_dir(data_dir: Path) -> Path:
    return data_dir / "index"


def current_generation(data_dir: Path) -> int | None:
    """The published generation number, read from the pointer file (cheap: one small read)."""
    try:
        return int((index_dir(data_dir) / POINTER).read_text().strip().removeprefix("gen-"))
    except (FileNotFoundError, ValueError):
        return None


def _gen_dir(data_dir: Path, generation: int) -> Path:
    return index_dir(data_dir) / f"gen-{generation:06d}"


def bm25_text(chunk: ChunkRecord) -> str:
    return f"{chunk.title}\n{chunk.heading}\n{chunk.text}"


def _build_bm25(chunks: list[ChunkRecord]) -> bm25s.BM25 | None:
    if not chunks:
        return None
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index([terms(bm25_text(c)) or ["∅"] for c in chunks], show_progress=False)
    return model


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_snapshot(data_dir: Path, snapshot: Snapshot, sentence_vectors: dict[str, np.ndarray]) -> int:
    """Write a new generation and publish it; returns its number. Old generations are pruned.

    `sentence_vectors` maps each chunk id to the vectors of its sentences, in order."""
    root = index_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    generation = (current_generation(data_dir) or 0) + 1
    while _gen_dir(data_dir, generation).exists():
        generation += 1
    target = _gen_dir(data_dir, generation)
    staging = root / f".staging-{generation:06d}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    ordered = sorted(snapshot.chunks.values(), key=lambda c: (c.source, c.start))
    rows, row = [], 0
    for chunk in ordered:
        rows.append(sentence_vectors[chunk.chunk_id].reshape(len(chunk.sentences), snapshot.dimension))
        chunk.sentence_row = row
        row += len(chunk.sentences)
    vectors = np.concatenate(rows) if rows else np.zeros((0, snapshot.dimension), dtype=np.float32)
    manifest = {
        "generation": generation, "embeddings": snapshot.embeddings, "dimension": snapshot.dimension,
        "collection": snapshot.collection, "created": time.time(),
        "documents": [asdict(d) for d in snapshot.documents.values()],
    }
    _fsync_write(staging / "manifest.json", json.dumps(manifest, ensure_ascii=False).encode())
    _fsync_write(staging / "chunks.jsonl", "\n".join(
        json.dumps(asdict(c), ensure_ascii=False) for c in ordered).encode())
    _fsync_write(staging / "texts.json", json.dumps(snapshot.texts, ensure_ascii=False).encode())
    with open(staging / "sentences.npy", "wb") as fh:
        np.save(fh, vectors.astype(np.float32))
        fh.flush()
        os.fsync(fh.fileno())
    bm25 = _build_bm25(ordered)
    if bm25 is not None:
        bm25.save(str(staging / "bm25"), show_progress=False)
    os.replace(staging, target)
    pointer_tmp = root / f".{POINTER}.{os.getpid()}"
    _fsync_write(pointer_tmp, f"gen-{generation:06d}\n".encode())
    os.replace(pointer_tmp, root / POINTER)
    _prune(data_dir, keep=generation)
    return generation


def _prune(data_dir: Path, keep: int) -> None:
    """Remove older generations, keeping the previous one for readers that are mid-load."""
    for path in index_dir(data_dir).glob("gen-*"):
        try:
            number = int(path.name.removeprefix("gen-"))
        except ValueError:
            continue
        if number < keep - 1:
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir(data_dir).glob(".staging-*"):
        if not path.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(path, ignore_errors=True)


def load_snapshot(data_dir: Path) -> Snapshot | None:
    """The published generation, or None when nothing was ever ingested."""
    generation = current_generation(data_dir)
    if generation is None:
        return None
    folder = _gen_dir(data_dir, generation)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    chunks: dict[str, ChunkRecord] = {}
    for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            record["sentences"] = [tuple(s) for s in record["sentences"]]
            chunks[record["chunk_id"]] = ChunkRecord(**record)
    bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if (folder / "bm25").exists() else None
    return Snapshot(
        embeddings=manifest["embeddings"], dimension=manifest["dimension"], generation=generation,
        documents={d["doc_id"]: DocumentRecord(**d) for d in manifest["documents"]},
        chunks=chunks, texts=json.loads((folder / "texts.json").read_text(encoding="utf-8")),
        sentence_vectors=np.load(folder / "sentences.npy"), bm25=bm25, chunk_order=list(chunks),
        collection=manifest.get("collection", ""),
    )
