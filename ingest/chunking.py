"""Structure-aware chunks. Every chunk's text is an exact slice of the cleaned document text
(`text[start:end]`), so quotes cut from it are verbatim source text.

- Inquiry-answer letters ("Spørgsmål N", the question, "…svar", the answer): one chunk per question
  with its answer, the question kept as the heading; the greeting/intro and the signature on their own.
- Markdown-ish text (Markdown, DOCX and HTML headings): one chunk per heading section.
- Other text: paragraphs packed under a size cap.
A part longer than the cap is split at paragraph/sentence boundaries, each piece repeating the heading.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter

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


def _pieces(text: str, part: _Part) -> list[tuple[int, int]]:
    """Split a part longer than the cap at paragraph, line or sentence boundaries."""
    start, end = _trimmed(text, part.start, part.end)
    if end - start <= MAX_CHUNK_CHARS:
        return [(start, end)] if end > start else []
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=MAX_CHUNK_CHARS, chunk_overlap=0, add_start_index=True,
        separators=["\n\n", "\n", ". ", " "], keep_separator="end",
    )
    pieces = []
    for doc in splitter.create_documents([text[start:end]]):
        s = start + doc.metadata["start_index"]
        s, e = _trimmed(text, s, s + len(doc.page_content))
        if e > s:
            pieces.append((s, e))
    return pieces


def split_document(doc: SourceDocument) -> list[Chunk]:
    text = doc.text
    parts = (_letter_parts(text) if doc.doc_type == "inquiry-answer" or _QUESTION.search(text) else None)
    parts = parts or _heading_parts(text, doc.title) or _paragraph_parts(text, doc.title)
    spans = sentence_spans(text)
    chunks: list[Chunk] = []
    for part in parts:
        for start, end in _pieces(text, part):
            body = text[start:end]
            digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
            index = len(chunks)
            chunks.append(Chunk(
                chunk_id=f"{doc.doc_id}-{doc.content_hash[:10]}-{index:04d}",
                doc_id=doc.doc_id, index=index, start=start, end=end, text=body,
                section=part.section, heading=part.heading, content_hash=digest,
                sentences=[(s, e) for s, e in spans if s >= start and e <= end],
            ))
    return chunks
