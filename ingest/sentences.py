"""Sentence spans in cleaned Danish/English text, so answers can quote whole sentences verbatim."""

import re

# Words that end with a period without ending a sentence (compared in lower case, without the period).
_ABBREVIATIONS = {
    "nr", "stk", "jf", "bl.a", "f.eks", "fx", "m.v", "mv", "m.fl", "pkt", "kap", "ca", "d", "dvs", "evt",
    "iht", "inkl", "ekskl", "vedr", "lbk", "bek", "mht", "pga", "o.l", "osv", "s", "tlf", "e.g", "i.e",
    "etc", "vs", "no", "art", "afd", "ref", "lov", "kl", "jan", "feb", "aug", "sep", "sept", "okt", "nov",
    "dec",
}
# A candidate end: . ! ? (optionally closed by a quote or bracket) followed by whitespace.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_LINE_BREAKING = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•–]\s|\d+[.)]\s|#))")
_LIST_MARK = re.compile(r"^(?:[-*•–]|\d+[.)])\s+")
_HEADING = re.compile(r"^#{1,6}\s")
_NON_SPACE = re.compile(r"\S")
_TITLE_LINE_MAX = 60
# How far to look for the end of a title line: it has at most 60 characters once stripped.
_TITLE_LINE_SCAN = 4 * _TITLE_LINE_MAX


def _next_char(text: str, pos: int) -> str:
    """The first non-space character at or after `pos` ("" at the end), without copying the rest of
    the text: a copy per sentence made splitting quadratic in the length of a block."""
    match = _NON_SPACE.search(text, pos)
    return match.group(0) if match else ""


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period at `end - 1` closes an abbreviation or an ordinal like "24."."""
    start = end - 1
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:end].rstrip(".").lower().lstrip("(\"'")
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    # "d. 24. april", "§ 57, stk. 3": a number's period before a lower-case word is an ordinal
    return bool(word.isdigit() and _next_char(text, end).islower())


def _title_line_end(text: str, start: int) -> int | None:
    """End of a short unpunctuated line that opens a sentence ("Spørgsmål 2", a letter's
    "…svar" line, a signature), when the next line starts anew; such a line stands alone."""
    while start < len(text) and text[start].isspace():
        start += 1
    newline = text.find("\n", start, start + _TITLE_LINE_SCAN)
    if newline == -1:
        return None
    line = text[start:newline].strip()
    following = _next_char(text, newline)
    if (line and len(line) <= _TITLE_LINE_MAX and len(line.split()) <= 7 and line[-1] not in ".!?:;,"
            and (following.isupper() or following.isdigit())):
        return newline
    return None


def _split_block(text: str, offset: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    while (title_end := _title_line_end(text, start)) is not None:
        spans.append((start, title_end))
        start = title_end
    for match in _END.finditer(text, start):
        end = match.end()
        if match.group(0).startswith(".") and _is_abbreviation(text, match.start() + 1):
            continue
        nxt = _next_char(text, end)
        if nxt and (nxt.islower() or nxt in ",;:"):
            continue
        spans.append((start, end))
        start = end
        while (title_end := _title_line_end(text, start)) is not None:
            spans.append((start, title_end))
            start = title_end
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        chunk = text[s:e]
        lead = len(chunk) - len(chunk.lstrip())
        chunk = chunk.strip()
        mark = _LIST_MARK.match(chunk)
        if mark:
            lead += mark.end()
            chunk = chunk[mark.end():]
        if len(chunk) >= 2 and any(c.isalnum() for c in chunk):
            out.append((offset + s + lead, offset + s + lead + len(chunk)))
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; paragraphs, list items and headings always end a sentence.

    Heading lines ("## Varighed") are not sentences and are left out.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for brk in [*_LINE_BREAKING.finditer(text), None]:
        end = brk.start() if brk else len(text)
        block = text[pos:end]
        if block.strip() and not _HEADING.match(block.lstrip()):
            spans.extend(_split_block(block, pos))
        elif block.strip():  # a heading line may carry a paragraph below it
            first_nl = block.find("\n")
            if first_nl != -1:
                spans.extend(_split_block(block[first_nl:], pos + first_nl))
        pos = brk.end() if brk else len(text)
    return spans
