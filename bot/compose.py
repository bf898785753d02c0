"""Turn chosen source sentences into the Answer's text and citations.

Consecutive sentences from one passage become one citation; every [n] in the text has a citation
and every citation is used. Quotes are the cleaned source text with whitespace folded."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Citation
from ingest.snapshot import ChunkRecord, Snapshot

LEAD_IN = {"da": "Ifølge kilderne:", "en": "According to the sources (quoted in Danish):"}
ABSTAIN = {
    "da": "Kilderne besvarer ikke dette spørgsmål, så jeg kan ikke give et svar med kildehenvisning. "
          "Prøv at omformulere spørgsmålet, eller send det videre til en medarbejder.",
    "en": "The sources do not answer this question, so I cannot give an answer with citations. "
          "Try rephrasing the question, or pass it on to a member of staff.",
}


@dataclass
class Quote:
    chunk: ChunkRecord
    start: int  # offsets into the document text
    end: int
    score: float


def fold_quote(text: str) -> str:
    return " ".join(text.split())


def merge_adjacent(quotes: list[Quote], snapshot: Snapshot) -> list[Quote]:
    """Join quotes that follow each other in the same passage, so one [n] covers them."""
    merged: list[Quote] = []
    for quote in quotes:
        last = merged[-1] if merged else None
        if last and last.chunk.chunk_id == quote.chunk.chunk_id and quote.start >= last.end:
            between = snapshot.texts[quote.chunk.doc_id][last.end:quote.start]
            if not between.strip():
                merged[-1] = Quote(last.chunk, last.start, quote.end, max(last.score, quote.score))
                continue
        merged.append(quote)
    return merged


def citation(n: int, quote: Quote, snapshot: Snapshot) -> Citation:
    chunk = quote.chunk
    text = snapshot.texts[chunk.doc_id]
    return Citation(
        n=n, source=chunk.source, title=chunk.title, section=chunk.section,
        quote=fold_quote(text[quote.start:quote.end]), passage=chunk.text, score=round(quote.score, 4),
        doc_id=chunk.doc_id, chunk_id=chunk.chunk_id, valid_from=chunk.valid_from,
        valid_to=snapshot.documents[chunk.doc_id].valid_to, quote_start=quote.start, quote_end=quote.end,
    )


def with_marker(sentence: str, n: int) -> str:
    """'… KLV-listen.' → '… KLV-listen [1].' (the marker sits before the closing period)."""
    if sentence.endswith(".") and not sentence.endswith(".."):
        return f"{sentence[:-1]} [{n}]."
    return f"{sentence} [{n}]"


def without_lead_in(text: str, language: str) -> str:
    """The answer without its "Ifølge kilderne:" line, for a letter that has its own heading."""
    lead = LEAD_IN.get(language, "")
    return text[len(lead):].lstrip() if lead and text.startswith(lead) else text


def extractive_text(language: str, citations: list[Citation]) -> str:
    body = " ".join(with_marker(c.quote, c.n) for c in citations)
    return f"{LEAD_IN[language]}\n\n{body}"
