"""The default composer, no LLM: quote the source sentences that hold what the question asks.

The three passages the answer model rates most likely to answer are quoted, the likeliest sentence of
each, best first: when the best-rated passage is not the one that answers, the next one usually is
(quoting the best passage twice first left the right passage out of the first three citations in
about 2 more of every 100 held-out answers).
The best passage's second-likeliest sentence is quoted too: with its first when the two are next to each
other, else after the others, so a fact in the sentence beside the likeliest one is not lost.
Two quotes that say the same thing are never both given: the primary source is quoted (the document
the other one cites, e.g. the 2019 letter a guideline paraphrases) and the other is listed under
"Se også"."""

from __future__ import annotations

from dataclasses import dataclass

from bot.features import PassageCandidate, SentenceCandidate, corpus_terms
from ingest.clean import fold
from ingest.snapshot import ChunkRecord, Snapshot

MAX_PASSAGES = 3  # an answer quotes this many passages, the likeliest first
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
    """The chosen sentences, a passage at a time, and the passages seen also.

    Two sentences of the best passage, because sentence vectors of one topical passage are close and its
    likeliest sentence is often the one next to the answer."""
    if not passages:
        return Selection([], [])
    ordered = sorted(passages, key=lambda p: p.probability, reverse=True)
    first = ordered[0]
    chosen = [Selected(p.hit.chunk, _likeliest(p)[0]) for p in ordered[:MAX_PASSAGES]]
    if len(first.sentences) > 1:
        chosen.append(Selected(first.hit.chunk, _likeliest(first)[1]))
    chosen, see_also = _without_repeats(chosen, ordered, snapshot)
    head, second = chosen[0], chosen[-1]
    if len(chosen) < 2 or second.chunk is not head.chunk or head.chunk is not first.hit.chunk:
        return Selection(chosen, see_also)
    pair = sorted([head, second], key=lambda s: s.sentence.start)
    if snapshot.texts[head.chunk.doc_id][pair[0].sentence.end:pair[1].sentence.start].strip():
        return Selection(chosen, see_also)  # apart in the text: the second is quoted after the others
    return Selection(pair + chosen[1:-1], see_also)  # next to each other: one quote


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

