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

from bot.currency import superseded
from bot.evidence import PASSAGES_CONSIDERED, Concept, coverage
from bot.retrieve import Hit, Retrieval
from ingest.chunking import ANSWER_HEAD
from ingest.snapshot import ChunkRecord
from ingest.terms import terms

MAX_SENTENCES = 3
SAME_PASSAGE_MARGIN = 0.06  # further sentences of the chosen passage within this of its best
OTHER_PASSAGE_MARGIN = 0.015  # a sentence of another passage must be nearly as good as the best
SAME_QUESTION = 0.86  # a passage asking our question this closely answers it: quote from its answer
SUPERSEDED_PENALTY = 0.05  # an older version of an updated document answers only if the update can't

# (what the question asks, what a sentence that answers it contains, the bonus such a sentence gets);
# a reason is the whole point of a "why", so it weighs most
_ASKS = [
    (re.compile(r"\b(hvorfor|why|begrundelse|årsag|reason)\b", re.I),
     re.compile(r"\b(skyldes|fordi|årsag|begrund|grund|da der|since|because)\w*", re.I), 0.08),
    (re.compile(r"\b(hvor mange|hvor meget|how many|how much|antal|number of)\b", re.I),
     re.compile(r"\d|\b(ingen|ikke data|alle|halvdelen|andel)\b", re.I), 0.05),
    (re.compile(r"\b(hvornår|when|dato|date|frist|deadline)\b", re.I),
     re.compile(r"\b\d{1,2}\.\s*\w+\s+\d{4}\b|\b(19|20)\d\d\b|\b\d{1,2}/\d{1,2}\b", re.I), 0.05),
    (re.compile(r"\b(står .* for|stand for|betyder|forkortelse|abbreviation|mean)\b", re.I),
     re.compile(r"=|\((?=[^)]*[A-ZÆØÅ])", re.I), 0.05),
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
    asked_match: float  # how well a question this passage itself asks matches ours
    answer_start: int  # where its answer begins (after a "…svar" line), else its start


def _is_statement(sentence: str) -> bool:
    if sentence.rstrip().endswith("?") or _NOT_AN_ANSWER.match(sentence) or len(sentence.split()) < 4:
        return False
    if sentence.startswith("(") and sentence.rstrip().endswith(")"):
        return False  # a source reference such as "(LBK nr. 280 af 1/3 2024 § 58)"
    return sentence.rstrip()[-1:] in ".!:)\"”" or len(sentence.split()) >= 8  # else a heading-like line


def _passages(question: str, question_concepts: list[Concept], retrieval: Retrieval) -> list[_Passage]:
    asks = [(wanted, bonus) for asked, wanted, bonus in _ASKS if asked.search(question)]
    snapshot = retrieval.snapshot
    old_versions = superseded(snapshot)
    out: list[_Passage] = []
    for rank, hit in enumerate(retrieval.hits[:PASSAGES_CONSIDERED]):
        chunk = hit.chunk
        if not chunk.sentences:
            continue
        text = snapshot.texts[chunk.doc_id]
        sims = snapshot.sentence_matrix(chunk) @ retrieval.vector
        sentences: list[Sentence] = []
        asked_match = 0.0
        answer_start = chunk.start
        for (start, end), sim in zip(chunk.sentences, sims, strict=True):
            sentence = text[start:end]
            if sentence.rstrip().endswith("?"):
                asked_match = max(asked_match, float(sim))
            if ANSWER_HEAD.match(sentence.strip()):
                answer_start = end
            if not _is_statement(sentence):
                continue
            overlap = coverage(question_concepts, set(terms(sentence)))
            score = float(sim) + 0.08 * overlap + sum(bonus for wanted, bonus in asks if wanted.search(sentence))
            score -= SUPERSEDED_PENALTY if chunk.doc_id in old_versions else 0.0
            sentences.append(Sentence(chunk, start, end, score))
        if not sentences:
            continue
        sentences.sort(key=lambda s: s.score, reverse=True)
        score = 0.5 * sentences[0].score + 0.5 * hit.dense + 0.5 * max(0.0, asked_match - 0.85) - 0.005 * rank
        out.append(_Passage(hit, sentences, score, asked_match, answer_start))
    return sorted(out, key=lambda p: p.score, reverse=True)


def select_sentences(question: str, question_concepts: list[Concept], retrieval: Retrieval) -> list[Sentence]:
    """The chosen passage's best sentences (document order), then any equally good other sentence."""
    passages = _passages(question, question_concepts, retrieval)
    if not passages:
        return []
    first = passages[0]
    best = first.sentences[0].score
    if first.asked_match >= SAME_QUESTION:  # the source answers this very question: quote its answer
        chosen = [s for s in first.sentences if s.start >= first.answer_start][:MAX_SENTENCES]
    else:
        chosen = [s for s in first.sentences if s.score >= best - SAME_PASSAGE_MARGIN][:MAX_SENTENCES]
    chosen = chosen or first.sentences[:1]
    if first.asked_match < SAME_QUESTION:
        # another passage's best sentence may take a place when it is as good as what we have
        others = [p.sentences[0] for p in passages[1:] if p.sentences[0].score >= best - OTHER_PASSAGE_MARGIN]
        ranked = sorted(chosen + others, key=lambda s: s.score, reverse=True)[:MAX_SENTENCES]
        chosen = [s for s in chosen if s in ranked] + [s for s in others if s in ranked]
    own = sorted((s for s in chosen if s.chunk is first.hit.chunk), key=lambda s: s.start)
    return own + [s for s in chosen if s.chunk is not first.hit.chunk]
