"""Cleaning and chunking on the seed letter's real lines and on the other formats."""

from pathlib import Path

from ingest.chunking import split_document
from ingest.clean import clean_text
from ingest.documents import read_document
from ingest.sentences import sentence_spans
from tests.conftest import KNOWLEDGE, SEED_LETTER


def test_line_end_hyphenation_is_rejoined_on_the_letters_lines():
    text = clean_text("Tak for din henvendelse, hvor du har stillet spørgs-\nmål til forvaltningen\n")
    assert "spørgsmål til forvaltningen" in " ".join(text.split())
    text = clean_text("løntilskuds-, nytteindsats- og virksomhedspraktikforløb (KLV = Kvartals-\n"
                      "oversigt for Løntilskuds- og Virksomhedspraktikforløb)")
    assert "Kvartalsoversigt for Løntilskuds- og Virksomhedspraktikforløb" in " ".join(text.split())
    assert "løntilskuds-, nytteindsats- og" in text


def test_real_hyphens_are_kept():
    text = clean_text("har stillet spørgsmål til Beskæftigelses-\nog Integrationsforvaltningen vedr. virksom-\n"
                      "hedspraktik. Det er en KLV-\nliste og et p-\nnummer.")
    folded = " ".join(text.split())
    assert "Beskæftigelses- og Integrationsforvaltningen" in folded
    assert "virksomhedspraktik." in folded
    assert "KLV-liste" in folded and "p-nummer" in folded


def test_whitespace_is_normalised_and_stray_leading_spaces_removed():
    text = clean_text(" Det er derfor ikke muligt at lave en fuldstændig samkørsel af KLV-li-\nsten med  "
                      "forvaltningens egen data.  \n \n\n\n Næste afsnit")
    assert text == "Det er derfor ikke muligt at lave en fuldstændig samkørsel af KLV-listen\nmed " \
                   "forvaltningens egen data.\n\nNæste afsnit"


def test_the_2019_letter_gives_one_chunk_per_question_plus_intro_and_signature():
    doc = read_document(KNOWLEDGE / SEED_LETTER, KNOWLEDGE)
    chunks = split_document(doc)
    assert [c.section for c in chunks] == ["Indledning"] + [f"Spørgsmål {n}" for n in range(1, 6)] + ["Afslutning"]
    assert doc.title == "Svar på henvendelse om virksomhedspraktik"
    assert doc.doc_type == "inquiry-answer"
    klv = chunks[2]
    assert klv.heading.startswith("Spørgsmål 2: Anvender forvaltningen de kvartalsvise KLV-lister")
    assert "besluttet ikke at gennemføre valideringen af KLV-listen" in klv.text
    assert chunks[-1].text.startswith("Med venlig hilsen") and "Tanja Franck" in chunks[-1].text
    for chunk in chunks:  # every chunk is an exact slice of the cleaned text
        assert doc.text[chunk.start:chunk.end] == chunk.text


def test_letter_sentences_end_at_sentence_ends_not_at_abbreviations():
    doc = read_document(KNOWLEDGE / SEED_LETTER, KNOWLEDGE)
    sentences = [" ".join(doc.text[s:e].split()) for s, e in sentence_spans(doc.text)]
    assert ("Tak for din henvendelse af d. 24. april 2019, hvor du har stillet spørgsmål til Beskæftigelses- og "
            "Integrationsforvaltningen vedr. virksomhedspraktik.") in sentences
    assert "Forvaltningen har besluttet ikke at gennemføre valideringen af KLV-listen." in sentences


def test_markdown_splits_by_headings_and_keeps_front_matter_as_metadata(tmp_path: Path):
    (tmp_path / "procedures").mkdir()
    path = tmp_path / "procedures" / "p.md"
    path.write_text("---\ntitle: Testprocedure\ntype: procedure\nvalid_from: 2024-03-01\n---\n# Testprocedure\n\n"
                    "## Første trin\n\nDen første regel gælder altid. **Fed** tekst.\n\n## Andet trin\n\n"
                    "Den anden regel gælder nogle gange.\n", encoding="utf-8")
    doc = read_document(path, tmp_path)
    assert (doc.title, doc.doc_type, doc.valid_from) == ("Testprocedure", "procedure", "2024-03-01")
    chunks = split_document(doc)
    assert [c.section for c in chunks] == ["Første trin", "Andet trin"]
    assert chunks[0].text == "Den første regel gælder altid. Fed tekst."


def test_long_sections_are_split_and_repeat_their_heading(tmp_path: Path):
    body = " ".join(f"Sætning nummer {i} handler om virksomhedspraktik og dens regler." for i in range(120))
    path = tmp_path / "lang.md"
    path.write_text(f"# Lang\n\n## Et langt afsnit\n\n{body}\n", encoding="utf-8")
    chunks = split_document(read_document(path, tmp_path))
    assert len(chunks) > 1
    assert all(c.section == "Et langt afsnit" and len(c.text) <= 1500 for c in chunks)


def test_every_sentence_of_a_long_section_lies_wholly_in_one_piece(tmp_path: Path):
    # abbreviations ("jf. ", "bl.a. "), questions and one sentence longer than a piece: the places a
    # splitter by characters cuts a sentence in two
    sentences = [f"Regel {i} gælder jf. lov nr. {i} bl.a. for borgere i praktik hos virksomhed nummer {i}?"
                 if i % 3 else f"Sagsbehandleren noterer udfaldet af forløb {i} i journalen." for i in range(90)]
    giant = "Denne sætning " + " ".join(f"ord{i}" for i in range(400)) + " slutter her."
    body = " ".join(sentences[:45]) + "\n\n" + giant + "\n\n" + " ".join(sentences[45:])
    path = tmp_path / "lang.md"
    path.write_text(f"# Lang\n\n## Et langt afsnit\n\n{body}\n", encoding="utf-8")
    doc = read_document(path, tmp_path)
    chunks = split_document(doc)
    assert len(chunks) > 2 and all(len(c.text) <= 1500 for c in chunks)
    for s, e in sentence_spans(doc.text):
        if e - s <= 1500:
            assert any(c.start <= s and e <= c.end and (s, e) in c.sentences for c in chunks), doc.text[s:e]
    quotable = [" ".join(doc.text[s:e].split()) for c in chunks for s, e in c.sentences]
    assert all(sentence in quotable for sentence in sentences)
