"""`praktikbot ingest`: bring the index in line with the knowledge dir.

Order of work, so that a crash at any point is repaired by the next run and readers always see a
whole version of every document:
1. repair: delete vectors no published generation refers to; re-process documents missing vectors;
2. add the chunks of new and changed documents, with their sentence vectors (new chunk ids, so old and
   new coexist);
3. publish a new generation record in Chroma atomically (ingest.generations);
4. retire the chunks of changed and removed documents: a later run deletes them after the grace period.
A rebuild does the same into a new Chroma collection beside the one in service (blue/green); the
replaced collection is retired whole, and one left by an interrupted rebuild is dropped by the next run.
A document that fails (unreadable, a zip bomb, over its time limit, any loader error) fails alone.
Vectors come from the vector cache where it has them (ingest.vector_cache): only text that changed is
embedded, and a rebuild with the same model embeds nothing."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ingest.chunking import Chunk, split_document
from ingest.documents import TIMELINE_FILE, SourceDocument, content_hash, is_source_file, read_document
from ingest.embeddings import VectorEmbeddings, load_embeddings
from ingest.generations import Generations, Retired, chunk_metadata, text_key
from ingest.loaders import DocumentError, ZipLimits
from ingest.lock import writer_lock
from ingest.personal_data import mask_personal_data
from ingest.settings import IndexSettings
from ingest.snapshot import ChunkRecord, DocumentRecord, Snapshot
from ingest.timeline import RuleChange, TimelineError, read_timeline
from ingest.vector_cache import CachedEmbeddings, cached_embeddings
from ingest.vectorstore import VectorStore, belongs_to_index, new_collection_name

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
REPORT_FILE = "last_report.json"
EMBED_BATCH = 256  # sentences per embedding call: the time limit and a cancel are checked between calls
MIN_FREE_BYTES = 64 * 1024 * 1024  # an ingest writes vectors, a generation and a report: less is "full"


class IngestConfigError(ValueError):
    """The arguments or settings make an ingest impossible (exit code 2)."""


class DataDirError(IngestConfigError):
    """The data dir can't be written (read-only, full, not a directory); the message names it."""


def check_data_dir(settings: IndexSettings) -> None:
    """Fail early and clearly when the data dir can't hold the index: called at the start of every
    ingest, and by the CLI and the web app before they start serving."""
    data_dir = settings.data_dir
    probe = data_dir / f".write-test-{os.getpid()}-{threading.get_ident()}"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"praktikbot")
            handle.flush()
            os.fsync(handle.fileno())
        probe.unlink()
        free = shutil.disk_usage(data_dir).free
    except OSError as exc:
        raise DataDirError(f"datamappen {data_dir} kan ikke skrives til: {exc.strerror or exc} "
                           f"(the data dir is not writable; check PRAKTIKBOT_DATA_DIR and its permissions)") from exc
    if free < MIN_FREE_BYTES:
        raise DataDirError(f"datamappen {data_dir} er fuld: kun {free // 2**20} MB fri, der kræves mindst "
                           f"{MIN_FREE_BYTES // 2**20} MB (the disk of the data dir is full)")


class ModelMismatchError(IngestConfigError):
    """The index was built with other embeddings than the configured ones."""


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    # personal data in the documents processed now: path, kind, count and whether it was masked
    # — never the data itself
    warnings: list[dict] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    repaired: int = 0  # stray vectors removed or documents re-processed after an interrupted run
    embedded: int = 0  # texts (chunks and sentences) the model embedded in this run
    reused: int = 0  # vectors taken from the vector cache instead
    generation: int | None = None
    finished_at: float = 0.0
    cancelled: bool = False  # stopped on request: nothing of this run was published

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
        if rel == TIMELINE_FILE:
            continue  # read by every ingest anyway: naming it only re-reads it
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


def _embedding_input(chunk: ChunkRecord) -> str:
    """The text a chunk's vector is computed from: the chunk under its heading (or title and section)."""
    context = chunk.heading or f"{chunk.title} – {chunk.section}".strip(" –")
    return f"{context}\n\n{chunk.text}" if context else chunk.text


def _sentence_inputs(text: str, chunk: ChunkRecord) -> list[str]:
    """The texts of a chunk's sentence vectors, from its document's cleaned `text`."""
    return [" ".join(text[s:e].split()) for s, e in chunk.sentences]


def vector_inputs(chunks: Iterable[ChunkRecord], texts: dict[str, str]) -> Iterator[str]:
    """Every text a generation holds a vector of: its chunks' and their sentences'."""
    for chunk in chunks:
        yield _embedding_input(chunk)
        yield from _sentence_inputs(texts[chunk.doc_id], chunk)


def _records(doc: SourceDocument, chunks: list[Chunk],
             settings: IndexSettings) -> tuple[DocumentRecord, list[ChunkRecord]]:
    keep = {k: v for k, v in doc.metadata.items() if k in ("owner", "sources", "example", "note")}
    # the kept metadata is shown to users too: masked like the text (the masks are valid JSON string content)
    metadata = json.loads(mask_personal_data(json.dumps(keep, default=str, ensure_ascii=False), settings.masking)[0])
    document = DocumentRecord(
        doc_id=doc.doc_id, source=doc.source, title=doc.title, doc_type=doc.doc_type,
        valid_from=doc.valid_from, content_hash=doc.content_hash, chunk_ids=[c.chunk_id for c in chunks],
        ingested_at=time.time(), metadata=metadata, audience=doc.audience, valid_to=doc.valid_to,
        supersedes=doc.supersedes,
    )
    records = [ChunkRecord(
        chunk_id=c.chunk_id, doc_id=doc.doc_id, source=doc.source, title=doc.title, doc_type=doc.doc_type,
        section=c.section, heading=c.heading, valid_from=doc.valid_from, start=c.start, end=c.end,
        text=c.text, content_hash=c.content_hash, sentences=c.sentences, audience=doc.audience,
    ) for c in chunks]
    return document, records


def sync(settings: IndexSettings, paths: list[Path] | None = None, rebuild: bool = False,
         progress: Progress | None = None, cancel: threading.Event | None = None) -> IngestReport:
    """Add new, replace changed, remove deleted, keep unchanged documents. Safe to repeat.

    A rebuild fills a new collection beside the one in service and switches to it when the new
    generation is published, so answers keep coming from the old one until then. A `cancel` set
    during the run stops it before the next document (or embedding batch): nothing is published,
    the previous generation keeps serving, and the report says it was cancelled."""
    started = time.perf_counter()
    knowledge_dir = settings.knowledge_dir
    if not knowledge_dir.is_dir():
        raise IngestConfigError(f"vidensmappen {knowledge_dir} findes ikke (knowledge dir not found)")
    check_data_dir(settings)
    generations = Generations(settings)
    with writer_lock(settings.data_dir), cached_embeddings(
            load_embeddings(settings.embeddings), settings.data_dir, (generations.current() or 0) + 1) as embeddings:
        published = generations.load(search=False)
        generations.collect(settings.generation_grace_seconds, published)
        empty = Snapshot(embeddings=embeddings.name, dimension=embeddings.dimension)
        if rebuild:
            store = VectorStore(settings, embeddings, new_collection_name(settings))
            old = empty
        else:
            store = VectorStore(settings, embeddings, _collection_in_service(published, settings))
            built_with = published.embeddings if published else store.recorded_model()
            if built_with and built_with != embeddings.name:
                raise ModelMismatchError(model_mismatch_message(built_with, embeddings.name))
            old = published or empty
        report = IngestReport()
        serving = {published.collection or settings.collection} if published else set()
        retiring, retiring_collections = generations.pending()
        if dropped := store.drop_others(keep=serving | retiring_collections):
            log.warning("removed %d collections of interrupted rebuilds", len(dropped))

        stored = store.all_ids()
        strays = stored - set(old.chunks) - retiring
        if strays:
            log.warning("removing %d vectors left by an interrupted ingest", len(strays))
            store.delete(sorted(strays))
        damaged = {c.doc_id for cid, c in old.chunks.items() if cid not in stored}
        report.repaired = len(strays) + len(damaged)

        files, prefixes = _scope(knowledge_dir, paths)
        documents = dict(old.documents)
        chunks = dict(old.chunks)
        texts = dict(old.texts)
        by_source = old.by_source()
        written: list[str] = []  # vectors this run added: taken out again if it is cancelled
        seen: set[str] = set()

        def retire(chunk_ids: list[str]) -> None:
            """Take chunks out of the generation being built; their vectors are retired when it is published."""
            for cid in chunk_ids:
                chunks.pop(cid, None)

        try:
            for number, path in enumerate(files, start=1):
                _stop_if_cancelled(cancel)
                source = path.resolve().relative_to(knowledge_dir.resolve()).as_posix()
                seen.add(source)
                if progress:
                    progress(number - 1, len(files), source)
                prior = by_source.get(source)
                fresh: list[str] = []
                try:
                    digest = content_hash(path, settings.masking)
                    if prior and prior.content_hash == digest and prior.doc_id not in damaged:
                        report.unchanged.append(source)
                        continue
                    check = _limits(settings.ingest_document_seconds, cancel)
                    doc = read_document(path, knowledge_dir, settings.masking, _zip_limits(settings))
                    check()
                    doc_chunks = split_document(doc)
                    if not doc_chunks:
                        raise DocumentError("dokumentet gav ingen tekstafsnit (no chunks)")
                    document, records = _records(doc, doc_chunks, settings)
                    sentence_vectors = _embed_sentences(
                        embeddings, [t for r in records for t in _sentence_inputs(doc.text, r)], check)
                    fresh = [c.chunk_id for c in doc_chunks if c.chunk_id not in old.chunks]
                    written.extend(fresh)
                    store.add([c.chunk_id for c in doc_chunks], [_embedding_input(r) for r in records],
                              _chunk_metadatas(records, sentence_vectors), check=check)
                except _Cancelled:
                    raise
                except Exception as exc:  # any loader or parser error fails this document only
                    _fail_document(report, source, exc)
                    if fresh:
                        store.delete(fresh)
                        del written[-len(fresh):]
                    continue
                chunks.update((record.chunk_id, record) for record in records)
                report.warnings.extend(_personal_data_warnings(doc))
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
        except _Cancelled:
            return _cancelled(settings, store, report, published, written, rebuild, embeddings, started)

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

        timeline = _timeline(knowledge_dir, old.timeline, report)
        changed = (report.added or report.updated or report.removed or report.repaired or rebuild or not published
                   or timeline != old.timeline)
        if changed:
            snapshot = Snapshot(embeddings=embeddings.name, dimension=embeddings.dimension, documents=documents,
                                chunks=chunks, texts=texts, collection=store.name, timeline=timeline)
            report.generation = generations.publish(snapshot, _retired(published, snapshot))
            generations.collect(settings.generation_grace_seconds, snapshot)
            embeddings.retain(vector_inputs(chunks.values(), texts), report.generation)
        else:
            report.generation = old.generation
        report.documents = len(documents)
        report.chunks = len(chunks)
        return _finish(settings, report, embeddings, started)


class _Cancelled(Exception):
    """The caller's cancel event was set: stop before the next document or batch."""


def _stop_if_cancelled(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise _Cancelled


def _limits(seconds: float, cancel: threading.Event | None) -> Callable[[], None]:
    """A check to call between the steps and batches of one document: it raises when the ingest was
    cancelled, or when the document has taken longer than its time limit."""
    started = time.monotonic()

    def check() -> None:
        _stop_if_cancelled(cancel)
        if time.monotonic() - started > seconds:
            raise DocumentError(
                f"dokumentet tog mere end {seconds:g} s at indlæse og er sprunget over; del det op eller "
                "hæv PRAKTIKBOT_INGEST_DOCUMENT_SECONDS (took longer than the per-document time limit)")

    return check


def _zip_limits(settings: IndexSettings) -> ZipLimits:
    return ZipLimits(max_uncompressed_bytes=settings.max_uncompressed_bytes,
                     max_compression_ratio=settings.max_compression_ratio)


def _collection_in_service(published: Snapshot | None, settings: IndexSettings) -> str:
    """The collection an ingest adds to: the published generation's, unless the configured
    collection was changed since (then the documents are re-processed into the configured one)."""
    if published and published.collection and belongs_to_index(published.collection, settings):
        return published.collection
    return settings.collection


def _embed_sentences(embeddings: VectorEmbeddings, texts: list[str], check: Callable[[], None]) -> np.ndarray:
    """Sentence vectors in batches, with `check` between them; a repeated sentence is embedded once."""
    unique = list(dict.fromkeys(texts))
    rows = [np.zeros((0, embeddings.dimension), dtype=np.float32)]
    for i in range(0, len(unique), EMBED_BATCH):
        check()
        rows.append(embeddings.embed_passages(unique[i:i + EMBED_BATCH]))
    matrix = np.concatenate(rows)
    row_of = {text: row for row, text in enumerate(unique)}
    return matrix[[row_of[text] for text in texts]] if texts else matrix


def _fail_document(report: IngestReport, source: str, exc: Exception) -> None:
    """Record why a document was skipped; an error we didn't foresee says what it was."""
    if isinstance(exc, DocumentError):
        reason = str(exc)
    elif isinstance(exc, OSError):
        reason = f"filen kan ikke læses (cannot read file: {exc.strerror or exc})"
    else:
        reason = f"dokumentet kunne ikke indlæses (unexpected error: {type(exc).__name__}: {exc})"
    report.failed.append({"path": source, "error": reason})
    log.warning("skipped %s: %s", source, reason, exc_info=not isinstance(exc, (DocumentError, OSError)))


def _personal_data_warnings(doc: SourceDocument) -> list[dict]:
    """Kind and count of personal data per document, masked or not — never the data itself."""
    return ([{"path": doc.source, "kind": kind, "count": count, "masked": True} for kind, count in doc.masked.items()]
            + [{"path": doc.source, "kind": kind, "count": count, "masked": False}
               for kind, count in doc.unmasked.items()])


def _cancelled(settings: IndexSettings, store: VectorStore, report: IngestReport, published: Snapshot | None,
               written: list[str], rebuild: bool, embeddings: CachedEmbeddings, started: float) -> IngestReport:
    """Undo what a cancelled run wrote; the published generation stays in service unchanged."""
    if rebuild:
        store.drop()
    elif written:
        store.delete(written)
    log.warning("ingest cancelled; generation %s stays in service", published.generation if published else None)
    result = IngestReport(failed=report.failed, cancelled=True, repaired=report.repaired,
                          generation=published.generation if published else None,
                          documents=len(published.documents) if published else 0,
                          chunks=len(published.chunks) if published else 0)
    return _finish(settings, result, embeddings, started)


def _finish(settings: IndexSettings, report: IngestReport, embeddings: CachedEmbeddings,
            started: float) -> IngestReport:
    report.embedded, report.reused = embeddings.embedded, embeddings.reused
    report.seconds = round(time.perf_counter() - started, 3)
    report.finished_at = time.time()
    _save_report(settings.data_dir, report)
    return report


def _timeline(knowledge_dir: Path, previous: list[RuleChange], report: IngestReport) -> list[RuleChange]:
    """The knowledge dir's rules timeline; one that doesn't validate fails in the report, and the
    previous one stays in service."""
    try:
        return read_timeline(knowledge_dir)
    except TimelineError as exc:
        report.failed.append({"path": TIMELINE_FILE, "error": str(exc)})
        log.warning("%s: %s", TIMELINE_FILE, exc)
        return previous


def _retired(published: Snapshot | None, new: Snapshot) -> Retired:
    """What the published generation used and `new` doesn't: its chunks, or its whole collection when
    `new` is in another one (a rebuild), and the texts of replaced and removed documents."""
    if published is None:
        return Retired(collection=new.collection)
    moved = published.collection != new.collection
    old_texts = {text_key(d) for d in published.documents.values()}
    return Retired(
        collection=published.collection,
        chunks=[] if moved else sorted(set(published.chunks) - set(new.chunks)),
        texts=sorted(old_texts - {text_key(d) for d in new.documents.values()}),
        collections=[published.collection] if moved else [],
    )


def _chunk_metadatas(records: list[ChunkRecord], sentence_vectors: np.ndarray) -> list[dict]:
    """Each chunk's Chroma metadata, with its rows of the document's sentence vectors."""
    metadatas, row = [], 0
    for record in records:
        metadatas.append(chunk_metadata(record, sentence_vectors[row: row + len(record.sentences)]))
        row += len(record.sentences)
    return metadatas


def _report_dir(data_dir: Path) -> Path:
    """The writer's own files: the last report (the vector cache and lock are beside it)."""
    return data_dir / "index"


def _save_report(data_dir: Path, report: IngestReport) -> None:
    folder = _report_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{REPORT_FILE}.tmp"
    tmp.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(folder / REPORT_FILE)


def last_report(data_dir: Path) -> dict | None:
    try:
        return json.loads((_report_dir(data_dir) / REPORT_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
