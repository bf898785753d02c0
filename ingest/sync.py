"""`praktikbot ingest`: bring the index in line with the knowledge dir.

Order of work, so that a crash at any point is repaired by the next run and readers always see a
whole version of every document:
1. repair: delete vectors no published generation refers to; re-process documents missing vectors;
2. add the chunks of new and changed documents (new chunk ids, so old and new coexist);
3. publish a new generation (manifest + chunk texts + sentence vectors + BM25) atomically;
4. only then delete the chunks of changed and removed documents."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.chunking import Chunk, split_document
from ingest.documents import SourceDocument, content_hash, is_source_file, read_document
from ingest.embeddings import load_embeddings
from ingest.loaders import DocumentError
from ingest.lock import writer_lock
from ingest.personal_data import personal_data_counts
from ingest.settings import IndexSettings
from ingest.snapshot import ChunkRecord, DocumentRecord, Snapshot, index_dir, load_snapshot, write_snapshot
from ingest.vectorstore import VectorStore

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
REPORT_FILE = "last_report.json"


class IngestConfigError(ValueError):
    """The arguments or settings make an ingest impossible (exit code 2)."""


class ModelMismatchError(IngestConfigError):
    """The index was built with other embeddings than the configured ones."""


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    # personal data found in the documents processed now: path, kind, count — never the data itself
    warnings: list[dict] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    repaired: int = 0  # stray vectors removed or documents re-processed after an interrupted run
    generation: int | None = None
    finished_at: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def model_mismatch_message(built_with: str, configured: str) -> str:
    return (
        f"indekset er bygget med embeddings {built_with!r}, men PRAKTIKBOT_EMBEDDINGS er {configured!r}; "
        "kør `praktikbot ingest --rebuild` (the index was built with another embedding model)"
    )


def _scope(knowledge_dir: Path, paths: Iterable[Path] | None) -> tuple[list[Path], list[str]]:
    """Files to look at, and the source prefixes they cover (documents gone from those are removed)."""
    root = knowledge_dir.resolve()
    if not paths:
        return sorted(p for p in root.rglob("*") if is_source_file(p) and _visible(p, root)), [""]
    files: list[Path] = []
    prefixes: list[str] = []
    for raw in paths:
        path = raw if raw.is_absolute() else Path.cwd() / raw
        path = path.resolve()
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError as exc:
            raise IngestConfigError(
                f"{raw} ligger ikke i vidensmappen {knowledge_dir} (path outside the knowledge dir)"
            ) from exc
        if path.is_dir():
            prefixes.append("" if rel == "." else rel.rstrip("/") + "/")
            files.extend(sorted(p for p in path.rglob("*") if is_source_file(p) and _visible(p, root)))
        elif path.is_file():
            prefixes.append(rel)
            if is_source_file(path):
                files.append(path)
        else:
            prefixes.append(rel)  # gone: removed if it was indexed, reported otherwise
    return files, prefixes


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _in_scope(source: str, prefixes: list[str]) -> bool:
    return any(p == "" or source == p or (p.endswith("/") and source.startswith(p)) for p in prefixes)


def _embedding_input(doc: SourceDocument, chunk: Chunk) -> str:
    context = chunk.heading or f"{doc.title} – {chunk.section}".strip(" –")
    return f"{context}\n\n{chunk.text}" if context else chunk.text


def _records(doc: SourceDocument, chunks: list[Chunk]) -> tuple[DocumentRecord, list[ChunkRecord]]:
    keep = {k: v for k, v in doc.metadata.items() if k in ("owner", "sources", "example", "note")}
    document = DocumentRecord(
        doc_id=doc.doc_id, source=doc.source, title=doc.title, doc_type=doc.doc_type,
        valid_from=doc.valid_from, content_hash=doc.content_hash, chunk_ids=[c.chunk_id for c in chunks],
        ingested_at=time.time(), metadata=json.loads(json.dumps(keep, default=str)), audience=doc.audience,
    )
    records = [ChunkRecord(
        chunk_id=c.chunk_id, doc_id=doc.doc_id, source=doc.source, title=doc.title, doc_type=doc.doc_type,
        section=c.section, heading=c.heading, valid_from=doc.valid_from, start=c.start, end=c.end,
        text=c.text, content_hash=c.content_hash, sentences=c.sentences, audience=doc.audience,
    ) for c in chunks]
    return document, records


def sync(settings: IndexSettings, paths: list[Path] | None = None, rebuild: bool = False,
         progress: Progress | None = None) -> IngestReport:
    """Add new, replace changed, remove deleted, keep unchanged documents. Safe to repeat."""
    started = time.perf_counter()
    knowledge_dir = settings.knowledge_dir
    if not knowledge_dir.is_dir():
        raise IngestConfigError(f"vidensmappen {knowledge_dir} findes ikke (knowledge dir not found)")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with writer_lock(settings.data_dir):
        embeddings = load_embeddings(settings.embeddings)
        store = VectorStore(settings, embeddings)
        previous = None if rebuild else load_snapshot(settings.data_dir)
        if rebuild:
            store.reset()
        else:
            built_with = previous.embeddings if previous else store.recorded_model()
            if built_with and built_with != embeddings.name:
                raise ModelMismatchError(model_mismatch_message(built_with, embeddings.name))
        old = previous or Snapshot(embeddings=embeddings.name, dimension=embeddings.dimension)
        report = IngestReport()

        stored = store.all_ids()
        strays = stored - set(old.chunks)
        if strays:
            log.warning("removing %d vectors left by an interrupted ingest", len(strays))
            store.delete(sorted(strays))
        damaged = {c.doc_id for cid, c in old.chunks.items() if cid not in stored}
        report.repaired = len(strays) + len(damaged)

        files, prefixes = _scope(knowledge_dir, paths)
        documents = dict(old.documents)
        chunks = dict(old.chunks)
        texts = dict(old.texts)
        vectors = {cid: old.sentence_matrix(c) for cid, c in old.chunks.items()}
        by_source = old.by_source()
        obsolete: list[str] = []
        seen: set[str] = set()

        def retire(chunk_ids: list[str]) -> None:
            """Take chunks out of the generation being built; their vectors go after publishing."""
            obsolete.extend(chunk_ids)
            for cid in chunk_ids:
                chunks.pop(cid, None)
                vectors.pop(cid, None)

        for number, path in enumerate(files, start=1):
            source = path.resolve().relative_to(knowledge_dir.resolve()).as_posix()
            seen.add(source)
            if progress:
                progress(number - 1, len(files), source)
            prior = by_source.get(source)
            try:
                digest = content_hash(path)
                if prior and prior.content_hash == digest and prior.doc_id not in damaged:
                    report.unchanged.append(source)
                    continue
                doc = read_document(path, knowledge_dir)
                doc_chunks = split_document(doc)
                if not doc_chunks:
                    raise DocumentError("dokumentet gav ingen tekstafsnit (no chunks)")
            except (DocumentError, OSError) as exc:
                report.failed.append({"path": source, "error": str(exc)})
                log.warning("skipped %s: %s", source, exc)
                continue
            document, records = _records(doc, doc_chunks)
            report.warnings.extend({"path": source, "kind": kind, "count": count}
                                   for kind, count in personal_data_counts(doc.text).items())
            sentence_texts = [" ".join(doc.text[s:e].split()) for c in doc_chunks for s, e in c.sentences]
            sentence_vectors = embeddings.embed_passages(sentence_texts)
            store.add([c.chunk_id for c in doc_chunks], [_embedding_input(doc, c) for c in doc_chunks],
                      [_chroma_metadata(r) for r in records])
            row = 0
            for record in records:
                chunks[record.chunk_id] = record
                vectors[record.chunk_id] = sentence_vectors[row: row + len(record.sentences)]
                row += len(record.sentences)
            if prior:
                kept = set(document.chunk_ids)
                retire([cid for cid in prior.chunk_ids if cid not in kept])
                if prior.doc_id in damaged and prior.content_hash == digest:
                    report.unchanged.append(source)  # repaired in place, content as before
                else:
                    report.updated.append(source)
            else:
                report.added.append(source)
            documents[doc.doc_id] = document
            texts[doc.doc_id] = doc.text

        for source, prior in by_source.items():
            if source not in seen and _in_scope(source, prefixes):
                report.removed.append(source)
                retire(prior.chunk_ids)
                documents.pop(prior.doc_id, None)
                texts.pop(prior.doc_id, None)
        for rel in prefixes:
            if rel and not rel.endswith("/") and rel not in seen and rel not in report.removed:
                report.failed.append({"path": rel, "error": "filen findes ikke (file not found)"})
        if progress:
            progress(len(files), len(files), "")

        changed = report.added or report.updated or report.removed or report.repaired or rebuild or not previous
        if changed:
            snapshot = Snapshot(embeddings=embeddings.name, dimension=embeddings.dimension,
                                documents=documents, chunks=chunks, texts=texts)
            report.generation = write_snapshot(settings.data_dir, snapshot, vectors)
            if obsolete:
                store.delete(sorted(set(obsolete)))
        else:
            report.generation = old.generation
        report.documents = len(documents)
        report.chunks = len(chunks)
        report.seconds = round(time.perf_counter() - started, 3)
        report.finished_at = time.time()
        _save_report(settings.data_dir, report)
        return report


def _chroma_metadata(record: ChunkRecord) -> dict:
    return {
        "doc_id": record.doc_id, "source": record.source, "title": record.title, "type": record.doc_type,
        "section": record.section, "valid_from": record.valid_from or "", "start": record.start,
        "end": record.end, "content_hash": record.content_hash, "audience": record.audience,
    }


def _save_report(data_dir: Path, report: IngestReport) -> None:
    folder = index_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{REPORT_FILE}.tmp"
    tmp.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(folder / REPORT_FILE)


def last_report(data_dir: Path) -> dict | None:
    try:
        return json.loads((index_dir(data_dir) / REPORT_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
