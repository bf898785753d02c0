"""The one answer function every channel calls: question (+ earlier turns) → Answer.

retrieve (hybrid) → weigh the evidence (abstain when weak) → compose (extractive by default, an LLM
when configured, its citations validated) → cite."""

from __future__ import annotations

import logging
import re
import time

from bot.compose import ABSTAIN, Quote, citation, extractive_text, merge_adjacent
from bot.evidence import concepts, lexical_query, weigh
from bot.extractive import select_sentences
from bot.language import detect_language
from bot.llm import LLMComposer
from bot.models import Answer, Passage, Turn
from bot.retrieve import Retrieval, retrieve
from bot.settings import Settings
from ingest.reader import IndexReader

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A follow-up this short ("og hvorfor?") is read together with the previous question.
FOLLOW_UP_CONCEPTS = 3


class InvalidQuestionError(ValueError):
    """The question is empty, too long or has control characters."""


def clean_question(question: str) -> str:
    if not isinstance(question, str):
        raise InvalidQuestionError("spørgsmålet skal være tekst (the question must be text)")
    text = question.strip()
    if not text:
        raise InvalidQuestionError("spørgsmålet er tomt (the question is empty)")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"spørgsmålet er for langt: {len(text)} tegn, højst {MAX_QUESTION_CHARS} "
            f"(the question is too long: at most {MAX_QUESTION_CHARS} characters)"
        )
    if _CONTROL.search(text):
        raise InvalidQuestionError("spørgsmålet indeholder kontroltegn (the question has control characters)")
    return text


class AnswerService:
    def __init__(self, settings: Settings, reader: IndexReader | None = None) -> None:
        self.settings = settings
        self.reader = reader or IndexReader(settings)
        self.llm = LLMComposer.from_settings(settings)

    def _contextual_query(self, question: str, language: str, history: list[Turn]) -> str:
        if history and len(concepts(question, language)) <= FOLLOW_UP_CONCEPTS:
            return f"{history[-1].question} {question}"
        return question

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        started = time.perf_counter()
        question = clean_question(question)
        language = detect_language(question)
        query = self._contextual_query(question, language, history or [])
        vector = self.reader.embed_query(query)
        retrieval = retrieve(self.reader, vector, lexical_query(query, language), k=5)
        retrieved = time.perf_counter()
        evidence = weigh(query, language, retrieval)
        answer = None
        if evidence.answerable:
            if self.llm is not None:
                answer = self.llm.compose(question, language, history or [], retrieval)
            if answer is None:
                answer = self._extractive(question, language, retrieval)
                if self.llm is not None and answer is not None:
                    answer.generator = "extractive-fallback"
        if answer is None:
            answer = Answer(question=question, language=language, answer=ABSTAIN[language], abstained=True,
                            generator="extractive")
        done = time.perf_counter()
        answer.timings_ms = {"retrieve": round((retrieved - started) * 1000, 2),
                             "compose": round((done - retrieved) * 1000, 2),
                             "total": round((done - started) * 1000, 2)}
        log.info("ask lang=%s coverage=%.2f similarity=%.3f abstained=%s", language, evidence.coverage,
                 evidence.similarity, answer.abstained)
        return answer

    def _extractive(self, question: str, language: str, retrieval: Retrieval) -> Answer | None:
        sentences = select_sentences(question, concepts(question, language), retrieval)
        if not sentences:
            return None
        quotes = merge_adjacent([Quote(s.chunk, s.start, s.end, s.score) for s in sentences], retrieval.snapshot)
        citations = [citation(n, q, retrieval.snapshot) for n, q in enumerate(quotes, start=1)]
        return Answer(question=question, language=language, answer=extractive_text(language, citations),
                      abstained=False, generator="extractive", citations=citations)

    def search(self, query: str, k: int = 5) -> list[Passage]:
        query = clean_question(query)
        language = detect_language(query)
        retrieval = retrieve(self.reader, self.reader.embed_query(query), lexical_query(query, language), k=k)
        return [Passage(
            chunk_id=h.chunk.chunk_id, doc_id=h.chunk.doc_id, source=h.chunk.source, title=h.chunk.title,
            section=h.chunk.section, type=h.chunk.doc_type, valid_from=h.chunk.valid_from, text=h.chunk.text,
            start=h.chunk.start, end=h.chunk.end, score=round(h.fused, 5),
        ) for h in retrieval.hits]
