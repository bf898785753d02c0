"""How much of a question does a passage or sentence cover? One of the answer model's features.

A question is reduced to concepts: its content words, each with the Danish stems that would show it
in a source (with the "glossary" bridge, English words go through a small English→Danish glossary
first). A Danish word's stems include its synonyms (bot/synonyms.py), so "firmaet" is covered by
"virksomheden". A concept is covered when a passage holds one of its stems, or a Danish compound that
starts with one."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import Stemmer

from bot.synonyms import synonyms
from ingest.terms import STOPWORDS, terms

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
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


def concepts(question: str, language: str, bridge: str = "glossary") -> list[Concept]:
    words = [w.lower() for w in _WORD.findall(question) if w.lower() not in _QUESTION_WORDS]
    out: list[Concept] = []
    i = 0
    while i < len(words):
        if language == "en" and bridge == "glossary":
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
        out.extend(Concept(words[i], frozenset({t}) | synonyms(t)) for t in terms(words[i]))
        i += 1
    return out


def lexical_query(question: str, language: str, bridge: str = "glossary") -> str:
    """The text BM25 searches with: the question, plus Danish words for an English question."""
    if language != "en" or bridge != "glossary":
        return question
    danish = [" ".join(sorted(c.stems)) for c in concepts(question, language, bridge)]
    return question + " " + " ".join(danish)


class TermIndex:
    """A set of terms that also finds the terms a stem starts (Danish compounds) quickly."""

    def __init__(self, found: Iterable[str]) -> None:
        self.terms = frozenset(found)
        self._long = sorted(t for t in self.terms if len(t) > _COMPOUND_PREFIX)

    def showing(self, stems: Collection[str]) -> frozenset[str]:
        """The terms that show one of `stems`: the stem itself, or a Danish compound it starts. A passage
        whose terms meet these holds the concept."""
        out = {s for s in stems if s in self.terms}
        for stem in stems:
            if len(stem) >= _COMPOUND_PREFIX:
                i = bisect_left(self._long, stem)
                while i < len(self._long) and self._long[i].startswith(stem):
                    out.add(self._long[i])
                    i += 1
        return frozenset(out)

