"""Each supported format is read into text; unreadable files fail with a clear reason."""

from pathlib import Path

import pytest

from ingest.chunking import split_document
from ingest.documents import read_document
from ingest.loaders import DocumentError
from tests.documents_factory import write_docx, write_pdf


def test_pdf_text_without_repeated_headers_and_page_numbers(tmp_path: Path):
    path = tmp_path / "notat.pdf"
    write_pdf(path, [
        ["Københavns Kommune - Notat", "Første side handler om rimelighedskravet for praktik.", "Side 1 af 2"],
        ["Københavns Kommune - Notat", "Anden side handler om tilsyn med praktik.", "Side 2 af 2"],
    ])
    doc = read_document(path, tmp_path)
    assert "rimelighedskravet" in doc.text and "tilsyn med praktik" in doc.text
    assert "Side 1 af 2" not in doc.text and "Københavns Kommune - Notat" not in doc.text


def test_corrupt_pdf_raises_a_clear_reason(tmp_path: Path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(DocumentError, match="PDF"):
        read_document(path, tmp_path)


def test_docx_headings_become_sections(tmp_path: Path):
    path = tmp_path / "vejledning.docx"
    write_docx(path, "Vejledning om praktik", [("Formål", "Praktikken skal afklare kompetencer."),
                                                ("Varighed", "Praktikken varer op til fire uger.")])
    doc = read_document(path, tmp_path)
    assert doc.title == "Vejledning om praktik"
    assert [c.section for c in split_document(doc)] == ["Formål", "Varighed"]


def test_html_is_read_without_markup(tmp_path: Path):
    path = tmp_path / "side.html"
    path.write_text("<html><head><title>Side</title><style>p{}</style></head><body><h1>Overskrift</h1>"
                    "<p>Første afsnit om praktik &amp; tilsyn.</p><script>var x=1;</script></body></html>",
                    encoding="utf-8")
    doc = read_document(path, tmp_path)
    assert "Første afsnit om praktik & tilsyn." in doc.text
    assert "var x" not in doc.text and "<p>" not in doc.text


def test_cp1252_text_keeps_danish_letters(tmp_path: Path):
    path = tmp_path / "gammel.txt"
    path.write_bytes("Søgning efter praktikpladser på Østerbro og Ærø.".encode("cp1252"))
    assert read_document(path, tmp_path).text == "Søgning efter praktikpladser på Østerbro og Ærø."


@pytest.mark.parametrize("name,content,reason", [
    ("tom.txt", b"   \n\n", "ingen tekst"),
    ("billede.png", b"\x89PNG\r\n", "understøttes ikke"),
    ("ødelagt.docx", b"PK\x03\x04 not a zip", "DOCX"),
])
def test_unusable_files_are_refused_with_a_reason(tmp_path: Path, name: str, content: bytes, reason: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason):
        read_document(path, tmp_path)


def test_a_letter_as_pdf_gives_the_same_question_chunks(tmp_path: Path):
    from tests.conftest import KNOWLEDGE, SEED_LETTER

    lines = (KNOWLEDGE / SEED_LETTER).read_text(encoding="utf-8").splitlines()
    half = len(lines) // 2
    (tmp_path / "inquiry-answers").mkdir()
    path = tmp_path / "inquiry-answers" / "svar.pdf"
    write_pdf(path, [["Beskæftigelses- og Integrationsforvaltningen"] + lines[:half] + ["Side 1 af 2"],
                     ["Beskæftigelses- og Integrationsforvaltningen"] + lines[half:] + ["Side 2 af 2"]])
    doc = read_document(path, tmp_path)
    chunks = split_document(doc)
    assert [c.section for c in chunks] == ["Indledning"] + [f"Spørgsmål {n}" for n in range(1, 6)] + ["Afslutning"]
    assert "Side 1 af 2" not in doc.text
    assert "besluttet ikke at gennemføre valideringen af KLV-listen" in " ".join(chunks[2].text.split())
