"""Ingest under hostile or unlucky conditions: personal data, broken and oversized documents, a rebuild
that dies half-way, a data dir that can't be written, and an admin who cancels."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.answer import AnswerService
from ingest.documents import read_document
from ingest.generations import current_generation, load_snapshot
from ingest.loaders import DocumentError
from ingest.personal_data import MaskingPolicy
from ingest.reader import IndexReader
from ingest.sync import DataDirError, check_data_dir, sync
from tests.documents_factory import write_docx

CPR = "010203-1234"
CASE = ("# Sagsnotat om praktik\n\n## Borgeren\n\nBorgeren med CPR-nummer 010203-1234 starter i virksomhedspraktik "
        "hos en tømrer i Valby. Hendes CPR-nummer står også som 0102031234 i den gamle journal. Hun kan kontaktes "
        "på jens.hansen@example.dk.\n")
KNOWN_QUESTION = "Bruger forvaltningen KLV-listerne?"


def _answered(settings, question: str = KNOWN_QUESTION) -> bool:
    answer = AnswerService(settings).ask(question)
    return not answer.abstained and bool(answer.citations)


def test_a_cpr_number_is_masked_in_everything_stored_and_served(make_index, caplog):
    settings = make_index()
    (settings.knowledge_dir / "procedures" / "sagsnotat.md").write_text(CASE, encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    report = sync(settings)

    assert report.added == ["procedures/sagsnotat.md"] and not report.failed
    assert {"path": "procedures/sagsnotat.md", "kind": "cpr-nummer", "count": 2, "masked": True} in report.warnings
    assert {"path": "procedures/sagsnotat.md", "kind": "e-mail", "count": 1, "masked": False} in report.warnings
    digits = ("010203", "0102031234")
    assert not any(d in json.dumps(report.as_dict()) for d in digits)
    snapshot = load_snapshot(settings)
    doc = next(d for d in snapshot.documents.values() if d.source == "procedures/sagsnotat.md")
    assert "CPR-nummer XXXXXX-XXXX starter" in snapshot.texts[doc.doc_id]
    for path in settings.data_dir.rglob("*"):  # manifest, chunks, texts, BM25, Chroma's SQLite and its FTS
        if path.is_file():
            assert b"010203" not in path.read_bytes(), path
    service = AnswerService(settings)
    answer = service.ask("Hvad er CPR-nummeret på borgeren, der starter i praktik hos en tømrer i Valby?")
    hits = service.search("CPR-nummer borger tømrer Valby", k=5)
    assert any(p.source == "procedures/sagsnotat.md" for p in hits), "the masked document is still found"
    served = answer.model_dump_json() + json.dumps([p.model_dump() for p in hits], ensure_ascii=False)
    assert not any(d in served for d in digits)
    assert not any(d in caplog.text for d in digits)


def test_contact_details_are_masked_when_configured(tmp_path: Path):
    path = tmp_path / "sag.txt"
    path.write_text("Ring til Jens på 33 66 33 66 eller skriv til jens.hansen@example.dk om praktikken.",
                    encoding="utf-8")
    kept = read_document(path, tmp_path)
    assert "jens.hansen@example.dk" in kept.text and kept.unmasked == {"e-mail": 1, "telefonnummer": 1}
    masked = read_document(path, tmp_path, MaskingPolicy(cpr=True, contact_details=True))
    assert masked.text == "Ring til Jens på [telefonnummer] eller skriv til [e-mail] om praktikken."
    assert masked.masked == {"e-mail": 1, "telefonnummer": 1}
    assert masked.content_hash != kept.content_hash, "a changed policy re-processes the document"


def test_a_number_that_is_no_date_is_not_taken_for_a_cpr_number(tmp_path: Path):
    path = tmp_path / "sag.txt"
    path.write_text("Journalnummer 320199-1234 og 310402-1234 er ikke CPR-numre, men 290204-1234 er.",
                    encoding="utf-8")
    doc = read_document(path, tmp_path)
    assert "320199-1234" in doc.text and "310402-1234" in doc.text and "290204" not in doc.text
    assert doc.masked == {"cpr-nummer": 1}


def _zip_bomb(path: Path, unpacked: int) -> None:
    """A real .docx with one extra entry of zeros that packs about a thousand times."""
    write_docx(path, "Vejledning", [("Formål", "Praktikken skal afklare kompetencer.")])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/fyld.bin", bytes(unpacked))


def test_broken_and_oversized_documents_fail_alone_with_a_reason(make_index):
    settings = make_index(max_uncompressed_bytes=2_000_000)
    folder = settings.knowledge_dir / "procedures"
    (folder / "ødelagt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer <<>>")
    (folder / "billede.docx").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    _zip_bomb(folder / "stor.docx", unpacked=3_000_000)
    (folder / "god.md").write_text("# God\n\n## Afsnit\n\nEt helt almindeligt notat om praktik.\n", encoding="utf-8")
    before = load_snapshot(settings)

    report = sync(settings)

    reasons = {f["path"]: f["error"] for f in report.failed}
    assert set(reasons) == {"procedures/ødelagt.pdf", "procedures/billede.docx", "procedures/stor.docx"}
    assert "PDF" in reasons["procedures/ødelagt.pdf"]
    assert "DOCX" in reasons["procedures/billede.docx"]
    assert "udpakket" in reasons["procedures/stor.docx"] and "2,000,000" in reasons["procedures/stor.docx"]
    assert report.added == ["procedures/god.md"]
    assert len(report.unchanged) == len(before.documents)


def test_a_zip_bomb_is_refused_by_its_compression_ratio(tmp_path: Path):
    _zip_bomb(tmp_path / "bombe.docx", unpacked=20_000_000)
    with pytest.raises(DocumentError, match="pakket .* gange"):
        read_document(tmp_path / "bombe.docx", tmp_path)


def test_a_document_over_its_time_limit_fails_and_the_rest_is_kept(make_index):
    settings = make_index(ingest_document_seconds=1e-9)
    (settings.knowledge_dir / "procedures" / "lang.md").write_text(
        "# Lang\n\n## Afsnit\n\n" + " ".join(f"Regel {i} gælder for praktik." for i in range(200)), encoding="utf-8")
    before = load_snapshot(settings)
    report = sync(settings)
    assert [f["path"] for f in report.failed] == ["procedures/lang.md"]
    assert "tog mere end" in report.failed[0]["error"]
    after = load_snapshot(settings)
    assert set(after.chunks) == set(before.chunks) == IndexReader(settings).store.all_ids()


class _Killed(Exception):
    """Stands in for the process dying part-way through an ingest."""


def test_a_rebuild_killed_half_way_leaves_the_old_generation_answering(make_index):
    settings = make_index()
    before = load_snapshot(settings)
    reader = IndexReader(settings)

    def die_after_two(done: int, total: int, current: str) -> None:
        if done == 2:
            raise _Killed

    with pytest.raises(_Killed):
        sync(settings, rebuild=True, progress=die_after_two)

    assert current_generation(settings) == before.generation
    assert reader.store.all_ids() == set(before.chunks), "the collection in service is untouched"
    assert _answered(settings)

    report = sync(settings, rebuild=True)
    after = load_snapshot(settings)
    assert sorted(report.added) == sorted(d.source for d in before.documents.values())
    assert after.collection != before.collection
    assert reader.store.all_ids() == set(after.chunks), "the reader follows the new generation's collection"
    assert _answered(settings)
    # the interrupted rebuild's collection is gone; the replaced one stays for the grace period (replicas
    # still answering from it), and goes with the first ingest after that
    def chunk_collections() -> set[str]:
        return {c.name for c in reader.store._client.list_collections()} - {f"{settings.collection}-generations"}

    assert chunk_collections() == {before.collection, after.collection}
    assert sync(settings).generation == after.generation
    assert chunk_collections() == {before.collection, after.collection}
    assert sync(settings.model_copy(update={"generation_grace_seconds": 0})).generation == after.generation
    assert chunk_collections() == {after.collection}


def test_a_killed_rebuild_process_leaves_the_old_generation_answering(make_index):
    settings = make_index()
    extra = settings.knowledge_dir / "procedures"
    for i in range(30):
        (extra / f"notat-{i:02d}.md").write_text(
            f"# Notat {i}\n\n## Afsnit\n\nNotat nummer {i} beskriver en regel om praktikforløb nummer {i}. "
            f"Reglen gælder for sager oprettet i uge {i % 52 + 1}.\n", encoding="utf-8")
    before = load_snapshot(settings)
    env = {**os.environ, "PRAKTIKBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir),
           "PRAKTIKBOT_DATA_DIR": str(settings.data_dir)}
    env.pop("PRAKTIKBOT_CHROMA_URL", None)
    # the child dies like kill -9 when its progress reaches the fifth document
    script = ("import os, sys; from bot.settings import Settings; from ingest.sync import sync\n"
              "def die(done, total, current):\n"
              "    if done == 5: os.kill(os.getpid(), 9)\n"
              "sync(Settings(), rebuild=True, progress=die)\n")
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=settings.knowledge_dir.parent,
                          capture_output=True, timeout=600)
    assert proc.returncode == -9, proc.stderr

    assert current_generation(settings) == before.generation
    assert _answered(settings)
    report = sync(settings)
    assert len(report.added) == 30 and not report.failed
    after = load_snapshot(settings)
    assert IndexReader(settings).store.all_ids() == set(after.chunks)


def test_cancel_stops_between_documents_and_publishes_nothing(make_index):
    settings = make_index()
    for i in range(3):
        (settings.knowledge_dir / "procedures" / f"ny-{i}.md").write_text(
            f"# Ny {i}\n\n## Afsnit\n\nEn ny regel nummer {i} om praktik.\n", encoding="utf-8")
    before = load_snapshot(settings)
    cancel = threading.Event()
    seen: list[str] = []

    def cancel_after_first_new(done: int, total: int, current: str) -> None:
        seen.append(current)
        if current == "procedures/ny-1.md":
            cancel.set()

    report = sync(settings, progress=cancel_after_first_new, cancel=cancel)

    assert report.cancelled and report.added == [] and report.generation == before.generation
    assert "procedures/ny-2.md" not in seen, "it stopped before the next document"
    assert current_generation(settings) == before.generation
    assert IndexReader(settings).store.all_ids() == set(before.chunks), "vectors written before the cancel are gone"
    assert json.loads((settings.data_dir / "index" / "last_report.json").read_text())["cancelled"] is True
    assert sorted(sync(settings).added) == ["procedures/ny-0.md", "procedures/ny-1.md", "procedures/ny-2.md"]


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """A directory nobody can write to, root included (the immutable flag); skipped where unavailable."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)]).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_data_dir_gives_a_clear_error_naming_it(make_index):
    settings = make_index()
    with _read_only(settings.data_dir):
        with pytest.raises(DataDirError, match="kan ikke skrives til") as error:
            check_data_dir(settings)
        assert str(settings.data_dir) in str(error.value)
        with pytest.raises(DataDirError):
            sync(settings)
        env = {**os.environ, "PRAKTIKBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir),
               "PRAKTIKBOT_DATA_DIR": str(settings.data_dir)}
        for command in (["ingest"], ["serve", "--port", "0"]):
            result = subprocess.run([sys.executable, "-m", "bot", *command], env=env, capture_output=True,
                                    text=True, timeout=120, cwd=settings.knowledge_dir.parent)
            assert result.returncode == 2 and "kan ikke skrives til" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr
    assert _answered(settings), "nothing was lost"


def test_a_full_data_dir_gives_a_clear_error(tmp_path: Path):
    """A 1 MB tmpfs in a private mount namespace stands in for a full disk."""
    if not shutil.which("unshare"):
        pytest.skip("unshare is not available")
    data = tmp_path / "data"
    data.mkdir()
    script = ("from ingest.settings import IndexSettings\nfrom ingest.sync import DataDirError, check_data_dir\n"
              f"try:\n    check_data_dir(IndexSettings(_env_file=None, data_dir={str(data)!r}))\n"
              "except DataDirError as exc:\n    print(exc)\n")
    result = subprocess.run(["unshare", "-Urm", "sh", "-c", f'mount -t tmpfs -o size=1m tmpfs "{data}" && '
                             f'"{sys.executable}" -c "$0"', script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parent.parent)
    if "mount" in result.stderr and result.returncode:
        pytest.skip(f"no private tmpfs here: {result.stderr.strip()}")
    assert "er fuld" in result.stdout and str(data) in result.stdout, result.stderr


def test_masking_leaves_ordinary_numbers_of_the_corpus_alone(shared_index):
    """Dates, case and section numbers are no CPR numbers: the demo corpus holds none, so nothing is masked."""
    texts = load_snapshot(shared_index).texts.values()
    assert texts and not any("XXXXXX-XXXX" in text for text in texts)
    assert any("24. april 2019" in text for text in texts)
