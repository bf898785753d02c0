"""The default composer, no LLM: quote the 1–3 source sentences that best answer the question.

First the passage that answers best is chosen: its similarity to the question, its best sentence,
and — for question-and-answer documents such as inquiry answers — how closely the question it
answers matches ours. Then its best sentences are quoted, plus a sentence from another passage only
when that one is as good. Sentences are scored by meaning (precomputed sentence vectors against the
question vector), by shared words, and by what the question word asks for (why → reasons, how many →
figures, when → dates, what does X stand for → definitions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bot.retrieve import Hit, Retrieval
from ingest.snapshot import ChunkRecord
from ingest.terms import terms

MAX_SENTENCES = 3
PASSAGES_CONSIDERED = 4
SAME_PASSAGE_MARGIN = 0.06  # further sentences of the chosen passage within this of its best
OTHER_PASSAGE_MARGIN = 0.015  # a sentence of another passage must be nearly as good as the best
EXAMPLE_PENALTY = 0.01  # illustrative documents yield to official ones when both answer

_ASKS = [
    (re.compile(r"\b(hvorfor|why|begrundelse|årsag|reason)\b", re.I),
     re.compile(r"\b(skyldes|fordi|derfor|årsag|begrund|da der|since|because)\w*", re.I)),
    (re.compile(r"\b(hvor mange|hvor meget|how many|how much|antal|number of)\b", re.I),
     re.compile(r"\d|\b(ingen|ikke data|alle|halvdelen|andel)\b", re.I)),
    (re.compile(r"\b(hvornår|when|dato|date|frist|deadline)\b", re.I),
     re.compile(r"\b\d{1,2}\.\s*\w+\s+\d{4}\b|\b(19|20)\d\d\b|\b\d{1,2}/\d{1,2}\b", re.I)),
    (re.compile(r"\b(står .* for|stand for|betyder|forkortelse|abbreviation|mean)\b", re.I),
     re.compile(r"=|\((?=[^)]*[A-ZÆØÅ])", re.I)),
]
_NOT_AN_ANSWER = re.compile(r"^(spørgsmål \d+|kære\b|med venlig|venlig hilsen)", re.I)


@dataclass
class Sentence:
    chunk: ChunkRecord
    start: int  # offsets into the document text
    end: int
    score: float


@dataclass
class _Passage:
    hit: Hit
    sentences: list[Sentence]
    score: float


def _is_statement(sentence: str) -> bool:
    if sentence.rstrip().endswith("?") or _NOT_AN_ANSWER.match(sentence) or len(sentence.split()) < 4:
        return False
    return sentence.rstrip()[-1:] in ".!:)\"”" or len(sentence.split()) >= 8  # else a heading-like line


def _passages(question: str, retrieval: Retrieval) -> list[_Passage]:
    question_terms = set(terms(question))
    asks = [wanted for asked, wanted in _ASKS if asked.search(question)]
    snapshot = retrieval.snapshot
    out: list[_Passage] = []
    for rank, hit in enumerate(retrieval.hits[:PASSAGES_CONSIDERED]):
        chunk = hit.chunk
        if not chunk.sentences:
            continue
        text = snapshot.texts[chunk.doc_id]
        sims = snapshot.sentence_matrix(chunk) @ retrieval.vector
        sentences: list[Sentence] = []
        asked_match = 0.0  # how well a question this passage itself asks matches ours
        for (start, end), sim in zip(chunk.sentences, sims, strict=True):
            sentence = text[start:end]
            if sentence.rstrip().endswith("?"):
                asked_match = max(asked_match, float(sim))
            if not _is_statement(sentence):
                continue
            overlap = len(question_terms & set(terms(sentence))) / max(1, len(question_terms))
            score = float(sim) + 0.08 * overlap + sum(0.03 for wanted in asks if wanted.search(sentence))
            sentences.append(Sentence(chunk, start, end, score))
        if not sentences:
            continue
        sentences.sort(key=lambda s: s.score, reverse=True)
        score = 0.5 * sentences[0].score + 0.5 * hit.dense + 0.5 * max(0.0, asked_match - 0.85) - 0.005 * rank
        out.append(_Passage(hit, sentences, score))
    return sorted(out, key=lambda p: p.score, reverse=True)


def select_sentences(question: str, retrieval: Retrieval, examples: set[str] | None = None) -> list[Sentence]:
    """The chosen passage's best sentences (document order), then any equally good other sentence.

    `examples` holds the doc ids of illustrative documents, which yield to official ones."""
    passages = _passages(question, retrieval)
    if examples:
        for passage in passages:
            if passage.hit.chunk.doc_id in examples:
                passage.score -= EXAMPLE_PENALTY
        passages.sort(key=lambda p: p.score, reverse=True)
    if not passages:
        return []
    first = passages[0]
    best = first.sentences[0].score
    chosen = [s for s in first.sentences if s.score >= best - SAME_PASSAGE_MARGIN][:MAX_SENTENCES]
    chosen.sort(key=lambda s: s.start)
    others = sorted((s for p in passages[1:] for s in p.sentences[:1]), key=lambda s: s.score, reverse=True)
    for sentence in others:
        if len(chosen) < MAX_SENTENCES and sentence.score >= best - OTHER_PASSAGE_MARGIN:
            chosen.append(sentence)
    return chosen


def best_sentence_similarity(retrieval: Retrieval) -> float:
    """How close the closest sentence among the top passages comes to the question."""
    snapshot = retrieval.snapshot
    best = 0.0
    for hit in retrieval.hits[:PASSAGES_CONSIDERED]:
        matrix = snapshot.sentence_matrix(hit.chunk)
        if len(matrix):
            best = max(best, float(np.max(matrix @ retrieval.vector)))
    return best
