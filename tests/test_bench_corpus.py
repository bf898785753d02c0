"""The bench's synthetic corpus: the same seed writes the same files, and the ingest makes exactly the
chunks asked for, so the cost curves measure the sizes they name."""

from __future__ import annotations

from pathlib import Path

from bench.corpus import write_corpus
from ingest.chunking import split_document
from ingest.documents import read_document

WANTED = 40


def _contents(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_same_seed_writes_the_same_corpus_and_another_seed_another(tmp_path: Path) -> None:
    first = write_corpus(tmp_path / "a", WANTED, seed=7)
    again = write_corpus(tmp_path / "b", WANTED, seed=7)
    other = write_corpus(tmp_path / "c", WANTED, seed=8)
    assert _contents(first.root) == _contents(again.root)
    assert _contents(first.root) != _contents(other.root)


def test_the_ingest_reads_every_file_and_makes_the_chunks_asked_for(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, WANTED, seed=3)
    documents = [read_document(path, tmp_path) for path in corpus.files]
    chunks = [chunk for doc in documents for chunk in split_document(doc)]
    assert len(chunks) == corpus.chunks == WANTED
    assert sum(len(c.sentences) for c in chunks) == corpus.sentences
    assert {doc.doc_type for doc in documents} <= {"guideline", "procedure"}
    assert all(doc.valid_from and doc.audience in ("public", "internal") for doc in documents)
    assert all(chunk.section and chunk.section != "Indledning" for chunk in chunks)
