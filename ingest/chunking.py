"""Structure-aware chunks. Every chunk's text is an exact slice of the cleaned document text
(`text[start:end]`), so quotes cut from it are verbatim source text.

- Inquiry-answer letters ("Spørgsmål N", the question, "…svar", the answer): one chunk per question
  with its answer, the question kept as the heading; the greeting/intro and the signature on their own.
- Markdown-ish text (Markdown, DOCX and HTML headings): one chunk per heading section.
- Other text: paragraphs packed under a size cap.
A part longer than the cap is split between sentences, at a paragraph break where one is near, each
piece repeating the heading: every sentence lies wholly inside one piece, so every sentence can be
quoted. Only a single sentence longer than the cap is cut, at a space.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field

from ingest.documents import SourceDocument
from ingest.sentences import sentence_spans

MAX_CHUNK_CHARS = 1500

# "Spørgsmål 2" on its own line, or "Spørgsmål 2: Anvender forvaltningen …?" with the question after it
_QUESTION = re.compile(r"^(?:Spørgsmål|Spm\.?|Question)\s*(\d+)\s*(?:[:.)–-]\s*(.*?))?\s*$",
                       re.IGNORECASE | re.MULTILINE)
ANSWER_HEAD = re.compile(r"^.{0,80}\bsvar\s*:?\s*$", re.IGNORECASE)
_CLOSING = re.compile(r"^(Med venlig(e)? hilsen?|Venlig hilsen|Med venlige hilsner|Kind regards)\b.*$",
                      re.IGNORECASE | re.MULTILINE)
# The closing is where a letter is signed: said in words, so "who signed the answer?" finds it.
CLOSING_HEADING = "Afslutning med hilsen og underskrift: brevet er underskrevet af"
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    section: str
    heading: str  # context repeated in front of the text when embedding (the question, the heading)
    content_hash: str
    sentences: list[tuple[int, int]] = field(default_factory=list)  # offsets into the document text


@dataclass
class _Part:
    start: int
    end: int
    section: str
    heading: str


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _letter_parts(text: str) -> list[_Part] | None:
    questions = list(_QUESTION.finditer(text))
    if len(questions) < 1:
        return None
    parts: list[_Part] = []
    closing = None
    for match in _CLOSING.finditer(text):
        if match.start() > questions[-1].end():
            closing = match
    intro_end = questions[0].start()
    if text[:intro_end].strip():
        parts.append(_Part(0, intro_end, "Indledning", ""))
    for i, match in enumerate(questions):
        end = questions[i + 1].start() if i + 1 < len(questions) else (closing.start() if closing else len(text))
        body = text[match.end():end]
        question_lines: list[str] = [match.group(2)] if match.group(2) else []
        for line in body.strip().splitlines():
            if not line.strip() or ANSWER_HEAD.match(line.strip()):
                break
            question_lines.append(line)
        question = " ".join(" ".join(question_lines).split())
        label = f"Spørgsmål {match.group(1)}"
        parts.append(_Part(match.start(), end, label, f"{label}: {question}" if question else label))
    if closing:
        parts.append(_Part(closing.start(), len(text), "Afslutning", CLOSING_HEADING))
    return parts


def _heading_parts(text: str, title: str) -> list[_Part] | None:
    headings = list(_MD_HEADING.finditer(text))
    if not headings:
        return None
    parts: list[_Part] = []
    if text[: headings[0].start()].strip():
        parts.append(_Part(0, headings[0].start(), "Indledning", title))
    trail: list[tuple[int, str]] = []
    for i, match in enumerate(headings):
        level, name = len(match.group(1)), match.group(2).strip()
        trail = [(lv, nm) for lv, nm in trail if lv < level] + [(level, name)]
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        body_start = match.end()
        if not text[body_start:end].strip():
            continue  # a heading directly followed by a sub-heading: the trail carries it
        shown = [nm for lv, nm in trail if nm != title] or [name]
        section = " › ".join(shown)
        parts.append(_Part(body_start, end, section, f"{title} – {section}"))
    return parts


def _paragraph_parts(text: str, title: str) -> list[_Part]:
    return [_Part(0, len(text), "", title)]


def _cuts(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> tuple[list[int], set[int]]:
    """Where a part may be cut without splitting a sentence: before each sentence (at the start of
    its line, so a list mark stays with its item), and which of those cuts are paragraph breaks."""
    cuts: list[int] = []
    paragraphs: set[int] = set()
    previous_end = start
    for i in range(bisect.bisect_left(spans, (start, start)), len(spans)):
        s, e = spans[i]
        if s >= end:
            break
        gap = text[previous_end:s]
        cut = previous_end + gap.rfind("\n") + 1 if "\n" in gap else s
        if cut > start:
            cuts.append(cut)
            if "\n\n" in gap:
                paragraphs.add(cut)
        previous_end = e
    return cuts, paragraphs


def _pieces(text: str, part: _Part, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Split a part longer than the cap between sentences; prefer a paragraph break in the second
    half of the window. Linear in the part's length: each cut is found by bisection."""
    start, end = _trimmed(text, part.start, part.end)
    cuts, paragraphs = _cuts(text, start, end, spans)
    pieces: list[tuple[int, int]] = []
    while end - start > MAX_CHUNK_CHARS:
        limit = start + MAX_CHUNK_CHARS
        window = cuts[bisect.bisect_right(cuts, start):bisect.bisect_right(cuts, limit)]
        cut = _paragraph_break(window, paragraphs, start + MAX_CHUNK_CHARS // 2)
        if cut is None and window:
            cut = window[-1]
        if cut is None:  # one sentence longer than the cap: cut it at its last space in reach
            space = text.rfind(" ", start + 1, limit)
            cut = space if space > start else limit
        piece = _trimmed(text, start, cut)
        if piece[1] > piece[0]:
            pieces.append(piece)
        start = _trimmed(text, cut, end)[0]
    if end > start:
        pieces.append((start, end))
    return pieces


def _paragraph_break(window: list[int], paragraphs: set[int], earliest: int) -> int | None:
    """The last paragraph break in the window, if it leaves the piece at least half full."""
    for cut in reversed(window):
        if cut < earliest:
            return None
        if cut in paragraphs:
            return cut
    return None


def _sentences_in(text: str, spans: list[tuple[int, int]], ends: list[int], start: int,
                  end: int) -> list[tuple[int, int]]:
    """The sentences inside [start, end); a sentence longer than the cap, cut between pieces, is
    kept as its part in each piece."""
    out = []
    for i in range(bisect.bisect_right(ends, start), len(spans)):
        s, e = spans[i]
        if s >= end:
            break
        if start <= s and e <= end:
            out.append((s, e))
        elif e - s > MAX_CHUNK_CHARS:
            out.append(_trimmed(text, max(s, start), min(e, end)))
    return [(s, e) for s, e in out if e > s]


def split_document(doc: SourceDocument) -> list[Chunk]:
    text = doc.text
    parts = (_letter_parts(text) if doc.doc_type == "inquiry-answer" or _QUESTION.search(text) else None)
    parts = parts or _heading_parts(text, doc.title) or _paragraph_parts(text, doc.title)
    spans = sentence_spans(text)
    ends = [e for _, e in spans]
    chunks: list[Chunk] = []
    for part in parts:
        for start, end in _pieces(text, part, spans):
            body = text[start:end]
            digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
            index = len(chunks)
            chunks.append(Chunk(
                chunk_id=f"{doc.doc_id}-{doc.content_hash[:10]}-{index:04d}",
                doc_id=doc.doc_id, index=index, start=start, end=end, text=body,
                section=part.section, heading=part.heading, content_hash=digest,
                sentences=_sentences_in(text, spans, ends, start, end),
            ))
    return chunks
