"""A Danish question in other words than the passage's: synonyms reach the passage's word, in the
coverage the answer model reads and in BM25. Cases are derived from the corpus, not listed."""

from __future__ import annotations

import pytest

from bot.evidence import TermIndex, concepts
from bot.retrieve import SYNONYM_WEIGHT
from bot.synonyms import derive, related, synonyms
from ingest.reader import IndexReader
from ingest.snapshot import chunk_terms
from ingest.terms import terms


@pytest.fixture(scope="module")
def reader(shared_index) -> IndexReader:
    return IndexReader(shared_index)


@pytest.fixture(scope="module")
def stand_in(reader) -> tuple[str, str]:
    """A word the corpus never uses whose synonym it does use: (the word, the corpus's stem)."""
    vocabulary = {t for chunk in reader.snapshot.chunks.values() for t in chunk_terms(chunk)}
    for stem in sorted(vocabulary):
        for other in sorted(synonyms(stem)):
            if other not in vocabulary and len(other) > 3 and terms(other) == [other] and terms(stem) == [stem]:
                return other, stem
    pytest.skip("no synonym outside the corpus's vocabulary")


def test_synonyms_go_both_ways():
    for stem in ("firma", "virksom"):
        assert synonyms(stem), f"the thesaurus has no synonym for {stem!r}"
        for other in synonyms(stem):
            assert stem in synonyms(other)
    assert related(["firma"]) and "firma" not in related(["firma"])


def test_a_danish_word_is_covered_by_its_synonym(stand_in):
    word, stem = stand_in
    (concept,) = concepts(word, "da")
    assert TermIndex([stem]).showing(concept.stems) == {stem}
    assert not TermIndex([stem]).showing(terms(word)), "only through the synonym"


def test_bm25_finds_a_passage_through_a_synonym_only(reader, stand_in):
    word, stem = stand_in
    snapshot = reader.snapshot
    assert reader.lexical(snapshot, word, 5) == [], "the word itself is in no passage"
    hits = reader.lexical(snapshot, word, 5, related, SYNONYM_WEIGHT)
    assert hits and all(set(related([word])) & set(chunk_terms(chunk)) for chunk, _ in hits)
    plain = reader.lexical(snapshot, stem, 1)
    assert hits[0][1] < plain[0][1], "a synonym weighs less than the word itself"


def test_the_table_keeps_synonyms_and_leaves_narrower_terms_and_phrases_out():
    thesaurus = "utf-8\nfirma|2\n|forretning|virksomhed (daglig tale)|lille virksomhed\n" \
                "|advokatfirma (underbegreb)\n"
    lines = [line for line in derive(thesaurus).splitlines() if not line.startswith("#")]
    assert lines == ["firma|forretning|virksomhed"]
