"""Reply drafts: splitting inquiries into questions, the letter form, the placeholder, the .docx."""

from __future__ import annotations

import io

import pytest
from docx import Document

from bot.draft import MAX_QUESTIONS, PLACEHOLDER, InquiryError, draft_reply, letter_docx, split_inquiry
from bot.runtime import Runtime

NUMBERED = """Kære Beskæftigelses- og Integrationsforvaltningen

Tak for sidst. Jeg har følgende spørgsmål om virksomhedspraktik, som jeg skrev om den
24. april 2019:

1. Bruger forvaltningen KLV-listerne fra RAR? Hvorfor/hvorfor ikke?
2) Hvem må underskrive ansøgningen
som medarbejderrepræsentant?

Jeg ser frem til jeres svar.

Med venlig hilsen
Andreas Keil
Journalist, Dagbladet
"""


def test_numbered_questions_keep_their_numbers_and_lines_are_joined():
    questions, name = split_inquiry(NUMBERED)
    assert questions == [
        (1, "Bruger forvaltningen KLV-listerne fra RAR? Hvorfor/hvorfor ikke?"),
        (2, "Hvem må underskrive ansøgningen som medarbejderrepræsentant?"),
    ]
    assert name == "Andreas Keil"


def test_sporgsmal_headers_with_the_question_on_the_next_line():
    inquiry = ("Spørgsmål 1\nHvilke krav stiller forvaltningen til træningsprogrammer? Der ønskes en "
               "kravsspecifikation?\n\nSpørgsmål 3: Hvordan følger forvaltningen op med stikprøver?\n")
    questions, name = split_inquiry(inquiry)
    assert questions == [
        (1, "Hvilke krav stiller forvaltningen til træningsprogrammer? Der ønskes en kravsspecifikation?"),
        (3, "Hvordan følger forvaltningen op med stikprøver?"),
    ]
    assert name is None


def test_unnumbered_questions_are_the_sentences_ending_in_a_question_mark():
    inquiry = """Hej,

Jeg skriver om virksomhedspraktik. Bruger forvaltningen KLV-listerne fra RAR? Hvorfor ikke?

Og hvem må underskrive ansøgningen som medarbejderrepræsentant? Hvor længe må en praktik vare?

Tak for hjælpen.
Mvh. Sofie Jensen"""
    questions, name = split_inquiry(inquiry)
    assert questions == [
        (1, "Bruger forvaltningen KLV-listerne fra RAR? Hvorfor ikke?"),  # a short follow-up stays with it
        (2, "Og hvem må underskrive ansøgningen som medarbejderrepræsentant?"),
        (3, "Hvor længe må en praktik vare?"),
    ]
    assert name == "Sofie Jensen"


def test_a_question_on_the_greeting_line_is_kept():
    assert split_inquiry("Hej, hvor længe må en virksomhedspraktik vare?\n\nMvh. Ole")[0] == [
        (1, "Hej, hvor længe må en virksomhedspraktik vare?")]


@pytest.mark.parametrize("inquiry", ["", "   \n ", "Kære forvaltning\n\nTak for et godt møde.\n\nMvh. Ole"])
def test_inquiries_without_questions_are_refused_with_a_reason(inquiry):
    with pytest.raises(InquiryError, match="(tom|ingen spørgsmål)"):
        split_inquiry(inquiry)


def test_too_long_inquiry_is_refused():
    with pytest.raises(InquiryError, match="for lang"):
        split_inquiry("Hvad? " * 5000)


def test_draft_answers_with_citations_and_leaves_unanswerable_questions_to_a_person(shared_index):
    runtime = Runtime(shared_index)
    inquiry = ("Kære forvaltning\n\n1. Bruger forvaltningen KLV-listerne fra RAR?\n"
               "2. Hvad koster en parkeringstilladelse i Indre By?\n\nMed venlig hilsen\nAndreas Keil\n")
    draft = draft_reply(runtime, inquiry)

    first, second = draft.items
    assert not first.answer.abstained and first.answer.citations
    assert second.answer.abstained
    letter = draft.letter
    assert letter.startswith("Kære Andreas Keil\n")
    order = ["Spørgsmål 1", "Bruger forvaltningen KLV-listerne fra RAR?",
             "Beskæftigelses- og Integrationsforvaltningens svar", first.answer.citations[0].quote[:-1], "Kilder:",
             f"[1] {first.answer.citations[0].title} · {first.answer.citations[0].section}",
             "Spørgsmål 2", "Hvad koster en parkeringstilladelse i Indre By?",
             "Beskæftigelses- og Integrationsforvaltningens svar", PLACEHOLDER, "Med venlig hilsen"]
    positions = [letter.index(part, letter.index(order[i - 1]) if i else 0) for i, part in enumerate(order)]
    assert positions == sorted(positions)
    assert letter.count(PLACEHOLDER) == 1
    assert "Ifølge kilderne" not in letter  # the letter's own heading introduces each answer
    assert second.answer.answer not in letter  # the bot's "can't answer" text is not passed off as a reply
    audited = [row["channel"] for row in runtime.records.recent_audit(2)]
    assert audited == ["draft", "draft"]


def test_docx_has_the_letter_with_the_placeholder_highlighted(shared_index):
    draft = draft_reply(Runtime(shared_index), "1. Bruger forvaltningen KLV-listerne fra RAR?\n"
                                               "2. Hvad koster en parkeringstilladelse i Indre By?")
    document = Document(io.BytesIO(letter_docx(draft)))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Kære modtager"
    assert {"Spørgsmål 1", "Spørgsmål 2", PLACEHOLDER, "Med venlig hilsen"} <= set(texts)
    assert draft.items[0].answer.citations[0].title in "\n".join(texts)
    placeholder = next(p for p in document.paragraphs if p.text == PLACEHOLDER)
    assert placeholder.runs[0].font.highlight_color is not None


def test_three_digit_question_numbers_are_questions_of_their_own():
    inquiry = "\n".join(f"{n}. Hvor længe må praktik nummer {n} vare?" for n in range(1, 101))
    questions, _ = split_inquiry(inquiry)
    assert [n for n, _ in questions] == list(range(1, 101))
    assert questions[-2:] == [(99, "Hvor længe må praktik nummer 99 vare?"),
                              (100, "Hvor længe må praktik nummer 100 vare?")]


def test_more_questions_than_a_draft_answers_are_refused_by_the_splitter():
    inquiry = "\n".join(f"{n}) Hvad gælder for praktik {n}?" for n in range(1, MAX_QUESTIONS + 2))
    with pytest.raises(InquiryError, match=f"{MAX_QUESTIONS + 1} spørgsmål"):
        split_inquiry(inquiry)


def test_the_docx_replaces_what_xml_cannot_hold(shared_index):
    draft = draft_reply(Runtime(shared_index), "1. Bruger forvaltningen KLV-listerne fra RAR?")
    draft.greeting = "Kære \x00Ole\x1f\uffff"
    texts = [p.text for p in Document(io.BytesIO(letter_docx(draft))).paragraphs]
    assert texts[0] == "Kære \ufffdOle\ufffd\ufffd"
