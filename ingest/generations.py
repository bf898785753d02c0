"""Published generations, kept in Chroma, so that every process that answers reads the same index from
one place and needs no files of its own (replicas on several hosts share only the Chroma server).

What Chroma holds:
- each chunk, in the generation's chunk collection: its vector, and as metadata its text, heading,
  offsets, sentence spans and sentence vectors (`chunk_metadata`);
- in the index's `<collection>-generations` collection: the cleaned text of each document version
  (`text:<doc id>:<content hash>`), the generation record `current` (the manifest: number, model,
  chunk collection, documents and their chunk ids, the rules timeline), and what each publication
  retired (`retired:<n>`).

Publishing is one upsert of `current`, after everything it names is written, so a reader sees either the
old generation or the new one whole. What a new generation no longer uses (chunks, document texts, a
rebuild's replaced collection) is retired, not deleted: it is removed by a later ingest once the grace
period (`PRAKTIKBOT_GENERATION_GRACE_SECONDS`) has passed, so a replica still answering from the old
generation keeps finding its chunks. A reader builds its BM25 index in memory from the chunks."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

import chromadb
import numpy as np

from ingest.settings import IndexSettings
from ingest.snapshot import ChunkRecord, DocumentRecord, Snapshot, build_bm25
from ingest.timeline import RuleChange
from ingest.vectorstore import open_client, reachable

log = logging.getLogger(__name__)
CURRENT = "current"
PAGE = 1000  # records per Chroma read
# Up to this many chunks a reader holds their vectors and searches them exactly in memory (0.3 ms at 10k
# here, where a Chroma query costs about 2 ms even at 50); a bigger generation is searched by Chroma.
EXACT_SEARCH_CHUNKS = 10_000
_published = 0  # publications made by this process: its readers check for a new generation at once
_published_lock = threading.Lock()


class GenerationError(RuntimeError):
    """A generation record names chunks or texts that can't be read (e.g. removed too early)."""


def publications() -> int:
    """How many generations this process has published; a change means "look now"."""
    return _published


def text_key(doc: DocumentRecord) -> str:
    return f"text:{doc.doc_id}:{doc.content_hash}"


def chunk_metadata(record: ChunkRecord, vectors: np.ndarray) -> dict:
    """What Chroma keeps of a chunk beside its vector: everything a reader needs to quote it."""
    return {
        "doc_id": record.doc_id, "source": record.source, "title": record.title, "type": record.doc_type,
        "section": record.section, "heading": record.heading, "valid_from": record.valid_from or "",
        "start": record.start, "end": record.end, "content_hash": record.content_hash,
        "audience": record.audience, "text": record.text, "sentences": json.dumps(record.sentences),
        "sentence_vectors": base64.b64encode(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).decode(),
    }


def _chunk_record(chunk_id: str, meta: dict, dimension: int) -> tuple[ChunkRecord, np.ndarray]:
    record = ChunkRecord(
        chunk_id=chunk_id, doc_id=meta["doc_id"], source=meta["source"], title=meta["title"],
        doc_type=meta["type"], section=meta["section"], heading=meta["heading"],
        valid_from=meta["valid_from"] or None, start=meta["start"], end=meta["end"], text=meta["text"],
        content_hash=meta["content_hash"], sentences=[tuple(s) for s in json.loads(meta["sentences"])],
        audience=meta["audience"],
    )
    vectors = np.frombuffer(base64.b64decode(meta["sentence_vectors"]), dtype=np.float32)
    return record, vectors.reshape(len(record.sentences), dimension)


class _Rows:
    """The sentence vectors of a generation, filled as chunks arrive, in one matrix sized from the first
    chunks' sentence counts: collecting them and concatenating at the end would hold them twice (at 100k
    chunks, 0.7 GB more at the peak of a replica's load)."""

    def __init__(self, dimension: int) -> None:
        self.buffer = np.zeros((0, dimension), dtype=np.float32)
        self.used = 0
        self.chunks = 0

    def append(self, vectors: np.ndarray, expected: int) -> int:
        """Add one chunk's vectors; returns its first row. `expected`: how many chunks will come."""
        self.chunks += 1
        if self.used + len(vectors) > len(self.buffer):
            per_chunk = (self.used + len(vectors)) / self.chunks
            size = max(self.used + len(vectors), int(per_chunk * max(expected, self.chunks) * 1.1) + 16)
            grown = np.zeros((size, self.buffer.shape[1]), dtype=np.float32)
            grown[:self.used] = self.buffer[:self.used]
            self.buffer = grown
        first = self.used
        self.buffer[first:first + len(vectors)] = vectors
        self.used += len(vectors)
        return first

    def rows(self) -> np.ndarray:
        return self.buffer[:self.used]


@dataclass
class Retired:
    """What one publication stopped using, removed once the grace period has passed."""

    collection: str  # the chunk collection the chunk ids are in
    generation: int = 0  # set when it is published
    at: float = 0.0
    chunks: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)  # whole collections (a rebuild's replaced one)


class Generations:
    """The generation records of one index (the configured collection and its rebuilds)."""

    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self._client = open_client(settings)
        with reachable(settings):
            self._meta = self._client.get_or_create_collection(
                f"{settings.collection}-generations", embedding_function=None,
                metadata={"praktikbot": "generation records"})

    def current(self) -> int | None:
        """The published generation's number: one small read, cheap enough to poll."""
        with reachable(self.settings):
            found = self._meta.get(ids=[CURRENT], include=["metadatas"])
        return int(found["metadatas"][0]["generation"]) if found["ids"] else None

    def published_at(self) -> float | None:
        """When the published generation was published (the writer's clock, seconds since the epoch)."""
        with reachable(self.settings):
            found = self._meta.get(ids=[CURRENT], include=["metadatas"])
        return float(found["metadatas"][0]["created"]) if found["ids"] else None

    def _manifest(self) -> dict | None:
        with reachable(self.settings):
            found = self._meta.get(ids=[CURRENT], include=["documents"])
        return json.loads(found["documents"][0]) if found["ids"] else None

    def load(self, previous: Snapshot | None = None, search: bool = True) -> Snapshot | None:
        """The published generation, with its BM25 built (`search`: an ingest, which doesn't search, skips
        it); None before the first ingest. What it shares with
        `previous` (the generation in service: chunks are immutable under their ids, texts under their
        keys) is taken from there, so a new generation costs what changed, not the whole corpus."""
        manifest = self._manifest()
        if manifest is None:
            return None
        documents = {d["doc_id"]: DocumentRecord(**d) for d in manifest["documents"]}
        dimension = manifest["dimension"]
        same_vectors = (previous is not None and previous.collection == manifest["collection"]
                        and previous.embeddings == manifest["embeddings"])
        known = previous.chunks if previous is not None and same_vectors else {}
        wanted = [cid for doc in documents.values() for cid in doc.chunk_ids]
        chunks: dict[str, ChunkRecord] = {}
        matrix = _Rows(dimension)
        exact = search and len(wanted) <= EXACT_SEARCH_CHUNKS
        vectors_of: dict[str, np.ndarray] = {}
        if exact and previous is not None and previous.chunk_vectors is not None and same_vectors:
            vectors_of = dict(zip(previous.chunk_order, previous.chunk_vectors, strict=True))
        for cid in wanted:
            if (old := known.get(cid)) is not None and (not exact or cid in vectors_of):
                # a copy: the generation in service keeps its own rows
                chunks[cid] = replace(old, sentence_row=matrix.append(previous.sentence_matrix(old), len(wanted)))
        fetch = [cid for cid in wanted if cid not in chunks]
        keys = [text_key(doc) for doc in documents.values()]
        reused = {text_key(doc): previous.texts[doc.doc_id] for doc in previous.documents.values()} if previous else {}
        with reachable(self.settings):
            collection = self._client.get_collection(manifest["collection"], embedding_function=None)
            for i in range(0, len(fetch), PAGE):
                found = collection.get(ids=fetch[i:i + PAGE],
                                       include=["metadatas", "embeddings"] if exact else ["metadatas"])
                for n, (cid, meta) in enumerate(zip(found["ids"], found["metadatas"], strict=True)):
                    chunks[cid], vectors = _chunk_record(cid, meta, dimension)
                    chunks[cid].sentence_row = matrix.append(vectors, expected=len(wanted))
                    if exact:
                        vectors_of[cid] = np.asarray(found["embeddings"][n], dtype=np.float32)
            texts = {**{k: reused[k] for k in keys if k in reused}, **self._texts([k for k in keys if k not in reused])}
        if missing := len(wanted) - len(chunks):
            raise GenerationError(f"generation {manifest['generation']}: {missing} chunks are missing from Chroma")
        ordered = sorted(chunks.values(), key=lambda c: (c.source, c.start))
        tokens = {cid: previous.tokens[cid] for cid in chunks if cid in previous.tokens} if previous else {}
        return Snapshot(
            embeddings=manifest["embeddings"], dimension=dimension, generation=manifest["generation"],
            documents=documents, chunks={c.chunk_id: c for c in ordered},
            texts={doc.doc_id: texts[text_key(doc)] for doc in documents.values()},
            sentence_vectors=matrix.rows(), bm25=build_bm25(ordered, tokens) if search else None,
            chunk_order=[c.chunk_id for c in ordered],
            chunk_vectors=np.array([vectors_of[c.chunk_id] for c in ordered], dtype=np.float32).reshape(
                len(ordered), dimension) if exact else None,
            collection=manifest["collection"],
            timeline=[RuleChange.stored(c) for c in manifest.get("timeline", [])], tokens=tokens,
        )

    def _texts(self, keys: list[str]) -> dict[str, str]:
        texts: dict[str, str] = {}
        for i in range(0, len(keys), PAGE):
            found = self._meta.get(ids=keys[i:i + PAGE], include=["documents"])
            texts.update(zip(found["ids"], found["documents"], strict=True))
        if missing := set(keys) - set(texts):
            raise GenerationError(f"{len(missing)} document texts are missing from Chroma")
        return texts

    def publish(self, snapshot: Snapshot, retired: Retired) -> int:
        """Write the texts the generation needs, then the generation record; returns its number.
        `retired` names what it no longer uses (its `generation` is set here)."""
        generation = (self.current() or 0) + 1
        with reachable(self.settings):
            new = list(snapshot.documents.values())
            if new:
                keys = [text_key(doc) for doc in new]
                known = set(self._meta.get(ids=keys, include=[])["ids"])
                todo = [(key, snapshot.texts[doc.doc_id])
                        for key, doc in zip(keys, new, strict=True) if key not in known]
                for i in range(0, len(todo), PAGE):
                    batch = todo[i:i + PAGE]
                    self._meta.upsert(ids=[k for k, _ in batch], documents=[t for _, t in batch],
                                      embeddings=[[1.0]] * len(batch), metadatas=[{"kind": "text"}] * len(batch))
            retired.generation, retired.at = generation, time.time()
            if retired.chunks or retired.texts or retired.collections:
                self._meta.upsert(ids=[f"retired:{generation:06d}"], documents=[json.dumps(asdict(retired))],
                                  embeddings=[[1.0]], metadatas=[{"kind": "retired", "at": retired.at}])
            manifest = {
                "generation": generation, "embeddings": snapshot.embeddings, "dimension": snapshot.dimension,
                "collection": snapshot.collection, "created": time.time(),
                "documents": [asdict(d) for d in snapshot.documents.values()],
                "timeline": [c.as_dict() for c in snapshot.timeline],
            }
            record = {"kind": "generation", "generation": generation, "created": manifest["created"]}
            self._meta.upsert(ids=[CURRENT], documents=[json.dumps(manifest, ensure_ascii=False)],
                              embeddings=[[1.0]], metadatas=[record])
        global _published
        with _published_lock:
            _published += 1
        return generation

    def retired(self) -> list[Retired]:
        """What publications retired and is not removed yet, oldest first."""
        with reachable(self.settings):
            found = self._meta.get(where={"kind": "retired"}, include=["documents"])
        return sorted((Retired(**json.loads(doc)) for doc in found["documents"]), key=lambda r: r.generation)

    def pending(self) -> tuple[set[str], set[str]]:
        """Chunk ids and collections retired but still in their grace period: not strays."""
        chunks: set[str] = set()
        collections: set[str] = set()
        for entry in self.retired():
            chunks.update(entry.chunks)
            collections.update(entry.collections)
        return chunks, collections

    def collect(self, grace_seconds: float, in_use: Snapshot | None) -> int:
        """Remove what was retired more than `grace_seconds` ago and the generation `in_use` doesn't use
        (a chunk or text can come back in a later generation); returns how many records went."""
        now, removed = time.time(), 0
        live_chunks = set(in_use.chunks) if in_use else set()
        live_texts = {text_key(d) for d in in_use.documents.values()} if in_use else set()
        for entry in self.retired():
            if now - entry.at < grace_seconds:
                continue
            with reachable(self.settings):
                removed += self._remove_chunks(entry.collection, [c for c in entry.chunks if c not in live_chunks])
                texts = [t for t in entry.texts if t not in live_texts]
                if texts:
                    self._meta.delete(ids=texts)
                for name in entry.collections:
                    if not in_use or name != in_use.collection:
                        self._drop(name)
                self._meta.delete(ids=[f"retired:{entry.generation:06d}"])
            removed += len(texts)
        return removed

    def _remove_chunks(self, collection: str, ids: Iterable[str]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        try:
            target = self._client.get_collection(collection, embedding_function=None)
        except (chromadb.errors.NotFoundError, ValueError):
            return 0  # dropped with its whole collection already
        for i in range(0, len(ids), PAGE):
            target.delete(ids=ids[i:i + PAGE])
        return len(ids)

    def _drop(self, name: str) -> None:
        try:
            self._client.delete_collection(name)
        except (chromadb.errors.NotFoundError, ValueError):
            pass  # gone already


def load_snapshot(settings: IndexSettings) -> Snapshot | None:
    """The published generation of the configured index (None before the first ingest)."""
    return Generations(settings).load()


def current_generation(settings: IndexSettings) -> int | None:
    return Generations(settings).current()
