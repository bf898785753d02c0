"""Cleaning of extracted text: re-join line-end hyphenation, normalise whitespace.

Line structure is kept on purpose: headings such as "Spørgsmål 2" are recognised by their lines,
and quotes are compared with whitespace folded, so line breaks inside a sentence do no harm.
"""

import re
import unicodedata

# A word fragment that ends a line with a hyphen, and the fragment that starts the next line.
_HYPHEN_BREAK = re.compile(r"(\w+)-[ \t]*\n[ \t]*([^\W\d_]\S*)", re.UNICODE)
_LEADING_WORD = re.compile(r"[^\W\d_]+")
# Suspended compounds keep their hyphen: "Beskæftigelses- og Integrationsforvaltningen".
_CONJUNCTIONS = {"og", "eller", "samt", "men", "end", "and", "or"}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def _rejoin(match: re.Match[str]) -> str:
    head, tail = match.group(1), match.group(2)
    first_word = _LEADING_WORD.match(tail).group(0)
    if first_word.lower() in _CONJUNCTIONS or not first_word[0].islower():
        return match.group(0)  # a real hyphen before a line break: leave it alone
    if head.isupper() or len(head) == 1:
        # "KLV-" + "listen", "p-" + "nummer": the hyphen is part of the word
        return f"{head}-{tail}\n"
    return f"{head}{tail}\n"


def rejoin_hyphenation(text: str) -> str:
    """Join words split over a line end ("spørgs-" / "mål" → "spørgsmål"), keep real hyphens."""
    return _HYPHEN_BREAK.sub(_rejoin, text)


def normalise_whitespace(text: str) -> str:
    """Strip each line, fold runs of spaces, keep at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def clean_text(text: str) -> str:
    """The cleaned text that chunks and quotes are cut from."""
    text = unicodedata.normalize("NFC", text).replace("\u00ad", "")  # soft hyphens carry nothing
    text = normalise_whitespace(text)
    text = rejoin_hyphenation(text)
    # joining moves the rest of a word up a line; a line may now start with a space
    return normalise_whitespace(text)


def fold(text: str) -> str:
    """Comparison form: whitespace folded, hyphenation re-joined, lower case."""
    return " ".join(rejoin_hyphenation(text).split()).lower()
