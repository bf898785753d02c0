"""How much of a question do the retrieved passages cover? The basis for answering or abstaining.

A question is reduced to concepts: its content words, each with the Danish stems that would show it
in a source (English words go through a small English→Danish glossary first). A concept is covered
when a passage holds one of its stems, or a Danish compound that starts with one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import Stemmer

from bot.retrieve import Retrieval
from ingest.terms import STOPWORDS, terms

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
# Answer when at least this share of the question's concepts is in the passages and the closest
# sentence is at least this similar; or when the closest sentence alone is very similar.
MIN_COVERAGE = 0.5  # strictly more than this share must be covered
MIN_SIMILARITY = 0.80
STRONG_SIMILARITY = 0.875
PASSAGES_CONSIDERED = 4  # the top passages that evidence (and the extractive answer) come from
_COMPOUND_PREFIX = 5
# Words that shape a question without naming what it is about ("hvor mange", "how long").
_QUESTION_WORDS = frozenset({"mange", "meget", "længe", "ofte", "hvorvidt", "egentlig", "gerne", "nogensinde",
                             "many", "much", "long", "often", "ever", "really"})


@dataclass
class Concept:
    word: str
    stems: frozenset[str]


@lru_cache(maxsize=1)
def _english_stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def _english_key(words: list[str]) -> str:
    """Glossary key: English Snowball stems, so "supervises" finds the entry for "supervise"."""
    return " ".join(_english_stemmer().stemWords(words))


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    text = resources.files("bot").joinpath("resources/glossary_en_da.tsv").read_text(encoding="utf-8")
    entries: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            english, danish = line.split("\t", 1)
            key = _english_key(english.lower().split())
            entries[key] = tuple(dict.fromkeys(entries.get(key, ()) + tuple(danish.split())))
    return entries


def concepts(question: str, language: str) -> list[Concept]:
    words = [w.lower() for w in _WORD.findall(question) if w.lower() not in _QUESTION_WORDS]
    out: list[Concept] = []
    i = 0
    while i < len(words):
        if language == "en":
            for size in (3, 2, 1):
                phrase = _english_key(words[i:i + size])
                if len(words[i:i + size]) == size and phrase in glossary():
                    stems = {t for da in glossary()[phrase] for t in terms(da)}
                    if stems:  # a word whose Danish is only stopwords ("may" → "må") carries nothing
                        out.append(Concept(phrase, frozenset(stems)))
                    i += size
                    break
            else:
                if words[i] not in STOPWORDS:
                    out.extend(Concept(words[i], frozenset({t})) for t in terms(words[i]))
                i += 1
            continue
        out.extend(Concept(words[i], frozenset({t})) for t in terms(words[i]))
        i += 1
    return out


def lexical_query(question: str, language: str) -> str:
    """The text BM25 searches with: the question, plus Danish words for an English question."""
    if language != "en":
        return question
    danish = [" ".join(sorted(c.stems)) for c in concepts(question, language)]
    return question + " " + " ".join(danish)


def coverage(question_concepts: list[Concept], passage_terms: set[str]) -> float:
    if not question_concepts:
        return 0.0
    long_terms = [t for t in passage_terms if len(t) > _COMPOUND_PREFIX]

    def covered(concept: Concept) -> bool:
        if concept.stems & passage_terms:
            return True
        return any(len(s) >= _COMPOUND_PREFIX and any(t.startswith(s) for t in long_terms) for s in concept.stems)

    return sum(covered(c) for c in question_concepts) / len(question_concepts)


@dataclass
class Evidence:
    coverage: float  # share of the question's concepts found in the top passages
    similarity: float  # the closest sentence's similarity to the question
    answerable: bool


def weigh(query: str, language: str, retrieval: Retrieval) -> Evidence:
    """Answer only when one passage covers most of the question and some sentence comes close in meaning.

    Coverage is per passage: words scattered over several passages don't make an answer. A number in the
    question (a year, an amount) must appear in that passage. A question with no content words ("og
    hvorfor?" on its own) has nothing to look up."""
    question_concepts = concepts(query, language)
    numbers = [c for c in question_concepts if c.word.isdigit()]
    share = 0.0
    for hit in retrieval.hits[:PASSAGES_CONSIDERED]:
        passage_terms = set(terms(f"{hit.chunk.heading}\n{hit.chunk.text}"))
        if all(c.stems & passage_terms for c in numbers):
            share = max(share, coverage(question_concepts, passage_terms))
    similarity = best_sentence_similarity(retrieval)
    answerable = bool(question_concepts) and share > 0 and (
        similarity >= STRONG_SIMILARITY or (share > MIN_COVERAGE and similarity >= MIN_SIMILARITY))
    return Evidence(share, similarity, answerable)


def best_sentence_similarity(retrieval: Retrieval) -> float:
    """How close the closest sentence among the top passages comes to the question."""
    snapshot = retrieval.snapshot
    best = 0.0
    for hit in retrieval.hits[:PASSAGES_CONSIDERED]:
        matrix = snapshot.sentence_matrix(hit.chunk)
        if len(matrix):
            best = max(best, float(np.max(matrix @ retrieval.vector)))
    return best
