"""The Answer every channel renders (the JSON of the contract), and what goes into it."""

from typing import Literal

from pydantic import BaseModel, Field


class Turn(BaseModel):
    """An earlier question and answer in the same conversation (web history, Slack thread)."""

    question: str
    answer: str = ""


class Passage(BaseModel):
    """A retrieved chunk: its text is an exact slice of the document's cleaned text."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    section: str
    type: str
    valid_from: str | None = None
    text: str
    start: int
    end: int
    score: float


class Citation(BaseModel):
    n: int
    source: str
    title: str
    section: str
    quote: str
    passage: str
    score: float
    doc_id: str
    chunk_id: str
    valid_from: str | None = None
    valid_to: str | None = None  # the quoted version's last day in force, when it has one
    quote_start: int = Field(description="offset of the quote in the document's cleaned text")
    quote_end: int


class SourceWarning(BaseModel):
    """A quoted source written before a change in the rules that the question or the quote touches."""

    kind: str = "rule-change"
    source: str
    title: str
    doc_id: str
    source_date: str = Field(description="the source's valid_from, at the precision it was written")
    date: str = Field(description="the date of the rule change (ISO)")
    act: str
    summary: str
    verified: bool = True
    message: str


class SeeAlso(BaseModel):
    """A passage that says the same as a quote (a paraphrase or the document it cites): listed, not quoted."""

    source: str
    title: str
    section: str
    doc_id: str
    chunk_id: str


class Answer(BaseModel):
    question: str
    language: str
    answer: str
    abstained: bool
    generator: str
    confidence: float = Field(0.0, ge=0.0, le=1.0,
                              description="how likely the best passage answers the question (fitted model)")
    low_confidence: bool = Field(False, description="answered, but below the model's confident level")
    citations: list[Citation] = Field(default_factory=list)
    see_also: list[SeeAlso] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    generation: int | None = Field(None, description="the index generation every passage of the answer came from")
    warnings: list[SourceWarning] = Field(default_factory=list)
    as_of: str | None = Field(None, description="the date (ISO) the answer is for: today unless asked otherwise")
    as_of_given: Literal["today", "question", "request"] = Field(
        "today", description="where the date came from: today, the question (\"hvad gjaldt i 2019\") or as_of")
