"""The default composer, no LLM: quote the source sentences that hold what the question asks.

The passage the answer model rates most likely to answer is quoted: its two likeliest sentences, then
the likeliest sentence of the next passages, three quotes in all: when the best-rated passage is not
the one that answers, the next one usually is.
Two quotes that say the same thing are never both given: the primary source is quoted (the document
the other one cites, e.g. the 2019 letter a guideline paraphrases) and the other is listed under
"Se også"."""

from __future__ import annotations

from dataclasses import dataclass

from bot.features import PassageCandidate, SentenceCandidate, corpus_terms
from ingest.clean import fold
from ingest.snapshot import ChunkRecord, Snapshot

MAX_SENTENCES = 3
# Two sentences say the same thing (a paraphrase or a copy) when their vectors are at least this close
# and they share at least this share of their terms; e5's cosines of merely related sentences reach 0.95.
SAME_MEANING = 0.96
SAME_TERMS = 0.3


@dataclass
class Selected:
    chunk: ChunkRecord
    sentence: SentenceCandidate


@dataclass
class Selection:
    sentences: list[Selected]
    see_also: list[ChunkRecord]


def _cites(citing: ChunkRecord, cited: ChunkRecord) -> bool:
    """Does a passage name the other's document as its source (a guideline quoting the letter)?"""
    return cited.doc_id != citing.doc_id and fold(cited.title) in fold(citing.text)


def select(passages: list[PassageCandidate], snapshot: Snapshot) -> Selection:
    """The chosen sentences (the best passage's first, in document order) and the passages seen also.

    The best passage gives its two likeliest sentences (two, because sentence vectors of one topical
    passage are close and its best sentence is often the one next to the answer); the next passages
    give their likeliest sentence each, up to three quotes."""
    if not passages:
        return Selection([], [])
    ordered = sorted(passages, key=lambda p: p.probability, reverse=True)
    first = ordered[0]
    chosen = [Selected(first.hit.chunk, s) for s in _likeliest(first)[:2]]
    chosen += [Selected(other.hit.chunk, _likeliest(other)[0]) for other in ordered[1:MAX_SENTENCES]]
    chosen, see_also = _without_repeats(chosen, ordered, snapshot)
    chosen = chosen[:MAX_SENTENCES]
    head = chosen[0].chunk
    own = sorted((s for s in chosen if s.chunk is head), key=lambda s: s.sentence.start)
    return Selection(own + [s for s in chosen if s.chunk is not head], see_also)


def _likeliest(passage: PassageCandidate) -> list[SentenceCandidate]:
    return sorted(passage.sentences, key=lambda s: s.probability, reverse=True)


def _without_repeats(chosen: list[Selected], passages: list[PassageCandidate],
                     snapshot: Snapshot) -> tuple[list[Selected], list[ChunkRecord]]:
    """Drop quotes that repeat an earlier one; a repeat in a cited (primary) document takes its place.

    Every candidate passage holding a sentence that says the same as a quote is listed as "see also"."""
    vectors = snapshot.sentence_vectors
    assert vectors is not None
    corpus = corpus_terms(snapshot)

    def says_same(a: SentenceCandidate, b: SentenceCandidate) -> bool:
        """A paraphrase or a copy: close vectors and shared terms."""
        if float(vectors[a.vector_row] @ vectors[b.vector_row]) < SAME_MEANING:
            return False
        ta, tb = corpus.sentence(a.vector_row, a.text).terms, corpus.sentence(b.vector_row, b.text).terms
        return len(ta & tb) >= SAME_TERMS * max(1, len(ta | tb))

    others = [(p.hit.chunk, s) for p in passages for s in p.sentences]
    kept: list[Selected] = []
    see_also: dict[str, ChunkRecord] = {}
    for item in chosen:
        if any(says_same(item.sentence, k.sentence) for k in kept):
            see_also.setdefault(item.chunk.chunk_id, item.chunk)
            continue
        same = [(c, s) for c, s in others
                if c.chunk_id != item.chunk.chunk_id and says_same(item.sentence, s)]
        primary = next(((c, s) for c, s in same if _cites(item.chunk, c)), None)
        if primary is not None:
            see_also.setdefault(item.chunk.chunk_id, item.chunk)
            item = Selected(*primary)
        kept.append(item)
        for c, _ in same:
            see_also.setdefault(c.chunk_id, c)
    quoted = {k.chunk.chunk_id for k in kept}
    return kept, [c for cid, c in see_also.items() if cid not in quoted]

