"""Reply drafts for the inquiry team: split a pasted inquiry into its questions, answer each with
citations, and lay the answers out in the administration's letter form (as text and as .docx).

Nothing is invented: a question the sources don't answer gets a visible placeholder for a person to
fill in, and the sender's name is only used when the inquiry's signature gives it. What the case worker
must check before sending (rule changes since a quoted source was written, an answer for another date
than today) are notes beside the letter, never part of it."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, computed_field

from bot.answer import LONE_SURROGATES, InvalidQuestionError, clean_question
from bot.compose import without_lead_in
from bot.models import Answer, Citation
from ingest.dates import danish

if TYPE_CHECKING:
    from bot.runtime import Runtime

PLACEHOLDER = "[Intet svar fundet i kilderne – skal besvares manuelt]"
ANSWER_LABEL = "Beskæftigelses- og Integrationsforvaltningens svar"
SENDER = "Beskæftigelses- og Integrationsforvaltningen"
INTRO = "Tak for din henvendelse. Nedenfor følger forvaltningens svar på dine spørgsmål."
CLOSING = "Med venlig hilsen"
NOTES_TITLE = "Noter til sagsbehandleren (indgår ikke i brevet)"
# Why an answer is for another date than today, by where the date came from (Answer.as_of_given).
AS_OF_NOTES = {
    "question": "Spørgsmålet gælder reglerne pr. {date}, så svaret bygger på de kilder, der gjaldt da – ikke på "
                "de gældende regler (answered for the rules as of {iso}, as the question asks).",
    "request": "Udkastet er besvaret efter reglerne pr. {date} – ikke efter de gældende regler "
               "(answered for the rules as of {iso}, as requested).",
}
DEFAULT_NAME = "modtager"
MAX_INQUIRY_CHARS = 20_000
# Each question is answered and audited: the limit holds before the first one is.
MAX_QUESTIONS = 100
MAX_EDITED_CHARS = 20_000
# A question sentence this short ("Hvorfor/hvorfor ikke?") belongs to the question before it.
FOLLOW_UP_WORDS = 4

_MONTHS = "januar|februar|marts|april|maj|juni|juli|august|september|oktober|november|december"
# "1.", "100)" or "Spørgsmål 3" at the start of a line, but not a date such as "24. april".
_NUMBERED = re.compile(rf"^\s*(?:spørgsmål\s+(\d+)|(\d{{1,3}})\s*[.)](?!\s*(?:{_MONTHS})\b))\s*[:.)–-]?\s*(.*)$",
                       re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^\s*(med\s+)?(venlig(e|st)?\s+hilsen|mvh|hilsen|bedste\s+hilsner|de\s+bedste\s+hilsner|"
    r"(best|kind)\s+regards|regards|sincerely|yours\s+sincerely)\b[\s,.!]*", re.IGNORECASE,
)
_SALUTATION = re.compile(r"^\s*(kære|hej|hejsa|goddag|til|dear|hi|hello)\b[^?]{0,80}$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"»(A-ZÆØÅ0-9])")
_NAME = re.compile(r"^[A-ZÆØÅ][\w'.-]*(\s+[A-ZÆØÅ][\w'.-]*){0,4}$")
# What XML 1.0, so a .docx, cannot hold: C0 controls other than tab and line breaks, lone surrogates,
# U+FFFE and U+FFFF. A draft sent back by a client may carry them; they become a visible U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class InquiryError(ValueError):
    """The inquiry is empty, too long, or contains no question (422 for the web API)."""


class DraftItem(BaseModel):
    n: int
    question: str
    answer: Answer
    # the inquiry team's own wording of this answer; when set, the letter says this instead of the quotes
    edited: str | None = Field(None, max_length=MAX_EDITED_CHARS)

    @computed_field
    @property
    def letter_text(self) -> str | None:
        """What the letter says in answer to this question; None: nothing found (the placeholder)."""
        if self.edited is not None and self.edited.strip():
            return self.edited.strip()
        return None if self.answer.abstained else letter_answer(self.answer)

    @computed_field
    @property
    def notes(self) -> list[str]:
        """What the case worker must check in this answer: the date it is for when that is not today,
        and each rule change since a quoted source was written (by source title)."""
        answer = self.answer
        notes = [f"{warning.title}: {warning.message}" for warning in answer.warnings]
        if answer.as_of and answer.as_of_given in AS_OF_NOTES:
            notes.insert(0, AS_OF_NOTES[answer.as_of_given].format(date=danish(answer.as_of), iso=answer.as_of))
        return notes


class Draft(BaseModel):
    """A reply draft: the greeting and the answered questions; `letter` is its plain text and `notes`
    what the case worker must check before sending it (kept out of the letter)."""

    greeting: str
    items: list[DraftItem] = Field(max_length=MAX_QUESTIONS)

    @computed_field
    @property
    def letter(self) -> str:
        return letter_text(self)

    @computed_field
    @property
    def notes(self) -> list[str]:
        return [f"Spørgsmål {item.n}: {note}" for item in self.items for note in item.notes]


def _paragraphs(text: str) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _body_and_name(inquiry: str) -> tuple[list[list[str]], str | None]:
    """The inquiry's paragraphs without salutation and signature, and the signer's name if given."""
    lines = inquiry.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    name = None
    for i, line in enumerate(lines):
        if match := _SIGN_OFF.match(line):
            after = [rest for rest in [line[match.end():].strip(), *(s.strip() for s in lines[i + 1:])] if rest]
            if after and _NAME.match(after[0]):
                name = after[0]
            lines = lines[:i]
            break
    paragraphs = _paragraphs("\n".join(lines))
    if paragraphs and _SALUTATION.match(paragraphs[0][0]):
        paragraphs[0] = paragraphs[0][1:]
    return [p for p in paragraphs if p], name


def _numbered(paragraphs: list[list[str]]) -> list[tuple[int, str]]:
    """Questions marked "1.", "1)" or "Spørgsmål 1": the rest of the marker's paragraph (or, after a
    bare "Spørgsmål 1" line, the paragraph that follows)."""
    found: list[tuple[int, list[str]]] = []
    waiting = False  # a bare "Spørgsmål N" header whose text is in the next paragraph
    for paragraph in paragraphs:
        current: list[str] | None = found[-1][1] if waiting else None
        waiting = False
        for line in paragraph:
            if match := _NUMBERED.match(line):
                current = [match.group(3)] if match.group(3) else []
                found.append((int(match.group(1) or match.group(2)), current))
            elif current is not None:
                current.append(line)
        if found and current is found[-1][1] and not current:
            waiting = True
    return [(n, " ".join(" ".join(lines).split())) for n, lines in found if lines]


def _unnumbered(paragraphs: list[list[str]]) -> list[tuple[int, str]]:
    """Sentences ending in "?"; a very short one is a follow-up to the question before it."""
    questions: list[str] = []
    for paragraph in paragraphs:
        previous_in_paragraph = False
        for sentence in _SENTENCE_END.split(" ".join(paragraph)):
            sentence = sentence.strip()
            if not sentence.endswith("?"):
                continue
            if previous_in_paragraph and len(sentence.split()) <= FOLLOW_UP_WORDS:
                questions[-1] = f"{questions[-1]} {sentence}"
            else:
                questions.append(sentence)
            previous_in_paragraph = True
    return list(enumerate(questions, start=1))


def split_inquiry(inquiry: str) -> tuple[list[tuple[int, str]], str | None]:
    """The numbered questions of an inquiry (its own numbers when it numbers them), and the signer's
    name. Numbered questions win: when there are any, other text is context, not a question."""
    if not inquiry.strip():
        raise InquiryError("henvendelsen er tom (the inquiry is empty)")
    if len(inquiry) > MAX_INQUIRY_CHARS:
        raise InquiryError(f"henvendelsen er for lang: højst {MAX_INQUIRY_CHARS} tegn "
                           f"(the inquiry is too long: at most {MAX_INQUIRY_CHARS} characters)")
    if LONE_SURROGATES.search(inquiry):
        raise InquiryError("henvendelsen indeholder ugyldige tegn (the inquiry has invalid characters: "
                           "lone surrogates)")
    paragraphs, name = _body_and_name(inquiry)
    questions = _numbered(paragraphs) or _unnumbered(paragraphs)
    if not questions:
        raise InquiryError("der er ingen spørgsmål i henvendelsen: nummerér dem, eller afslut dem med "
                           "spørgsmålstegn (no questions found: number them or end them with '?')")
    if len(questions) > MAX_QUESTIONS:
        raise InquiryError(f"henvendelsen har {len(questions)} spørgsmål; et udkast kan højst besvare "
                           f"{MAX_QUESTIONS}: del den op (the inquiry has {len(questions)} questions, "
                           f"at most {MAX_QUESTIONS} per draft)")
    return questions, name


def source_line(citation: Citation) -> str:
    date = f", {citation.valid_from}" if citation.valid_from else ""
    return f"[{citation.n}] {citation.title} · {citation.section}{date} ({citation.source})"


def letter_answer(answer: Answer) -> str:
    """The answer as the letter quotes it: without the "Ifølge kilderne:" line (the letter has its own
    heading), but keeping the sentence that says which date an answer for another date is for."""
    as_of, _, rest = answer.answer.partition("\n\n")
    if answer.as_of_given == "today" or not rest:
        return without_lead_in(answer.answer, answer.language)
    return f"{as_of}\n\n{without_lead_in(rest, answer.language)}"


def blocks(draft: Draft) -> Iterator[tuple[str, str]]:
    """The letter as (kind, text) blocks: one layout for the text version and the .docx."""
    yield "greeting", draft.greeting
    yield "intro", INTRO
    for item in draft.items:
        yield "heading", f"Spørgsmål {item.n}"
        yield "question", item.question
        yield "label", ANSWER_LABEL
        if (text := item.letter_text) is None:
            yield "placeholder", PLACEHOLDER
            continue
        yield "answer", text
        if not item.answer.citations:
            continue  # answered in the team's own words where the sources said nothing
        yield "sources", "Kilder:"
        for citation in item.answer.citations:
            yield "source", source_line(citation)
    yield "closing", CLOSING
    yield "signature", SENDER


# Blocks that continue the block before them on the next line rather than after a blank line.
_CONTINUING = {"question", "answer", "placeholder", "source", "signature"}


def letter_text(draft: Draft) -> str:
    text = ""
    for kind, block in blocks(draft):
        text += ("" if not text else "\n" if kind in _CONTINUING else "\n\n") + block
    return text + "\n"


def _checked(questions: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Every question as it will be asked, so a bad one refuses the draft before anything is answered."""
    checked = []
    for n, question in questions:
        try:
            checked.append((n, clean_question(question)))
        except InvalidQuestionError as exc:
            raise InquiryError(f"spørgsmål {n}: {exc}") from exc
    return checked


def draft_reply(runtime: Runtime, inquiry: str, audiences: frozenset[str] | None = None,
                as_of: str | None = None) -> Draft:
    """Split, answer each question from the sources for `audiences` (None: all) in force on `as_of`
    (today by default), audited on the "draft" channel, and lay out the letter."""
    questions, name = split_inquiry(inquiry)
    return Draft(greeting=f"Kære {name or DEFAULT_NAME}",
                 items=[DraftItem(n=n, question=q, answer=runtime.ask(q, channel="draft", audiences=audiences,
                                                                      as_of=as_of)[0])
                        for n, q in _checked(questions)])


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def letter_docx(draft: Draft) -> bytes:
    """The letter as a Word document; the manual-answer placeholder is highlighted to stand out. The
    case worker's notes follow on a page of their own under NOTES_TITLE, so the letter prints without
    them and they are plainly not part of it. Characters XML can't hold are replaced, so any draft the
    API accepts becomes a valid file."""
    from docx import Document
    from docx.enum.text import WD_COLOR_INDEX
    from docx.shared import Cm

    document = Document()
    for kind, block in blocks(draft):
        text = _xml(block)
        if kind == "heading":
            document.add_heading(text, level=2)
            continue
        paragraph = document.add_paragraph()
        run = paragraph.add_run(text)
        run.bold = kind in ("label", "sources", "placeholder")
        run.italic = kind == "question"
        if kind == "placeholder":
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW
        if kind == "source":
            paragraph.paragraph_format.left_indent = Cm(0.6)
    if draft.notes:
        document.add_heading(NOTES_TITLE, level=1).paragraph_format.page_break_before = True
        for note in draft.notes:
            document.add_paragraph(_xml(note), style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
