"""Optional LLM composer (LangChain): `openai:<model>` or `ollama:<model>` in PRAKTIKBOT_LLM.

The model sees numbered passages and must cite them as [n]. Its reply is checked: any [n] outside
the given passages, or no [n] at all, discards the reply and the caller falls back to the extractive
answer. Each cited passage is quoted by the sentence in it that best matches the LLM's sentence."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources

from langchain_core.language_models.chat_models import BaseChatModel

from bot.compose import ABSTAIN, Quote, citation
from bot.models import Answer, Turn
from bot.retrieve import Retrieval
from bot.settings import Settings
from ingest.snapshot import ChunkRecord
from ingest.terms import terms

log = logging.getLogger(__name__)
NO_ANSWER = "INGEN_SVAR"
PASSAGES_GIVEN = 5
_MARKER = re.compile(r"\[(\d+)\]")
_MARKER_LIST = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)+)\]")  # "[1, 2]" → "[1][2]"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MARKERS_AFTER_END = re.compile(r"([.!?])[ \t]*((?:\[\d+\])+)")  # "listen. [1]" → "listen [1]."


class LLMConfigError(ValueError):
    """PRAKTIKBOT_LLM names no provider we support."""


def chat_model(spec: str) -> BaseChatModel:
    provider, _, model = spec.partition(":")
    if not model:
        raise LLMConfigError(f"PRAKTIKBOT_LLM={spec!r}: brug 'openai:<model>' eller 'ollama:<model>'")
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=model, temperature=0, timeout=60, max_retries=1)
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(model=model, temperature=0)
    raise LLMConfigError(f"ukendt LLM-udbyder {provider!r} i PRAKTIKBOT_LLM (use openai: or ollama:)")


@lru_cache(maxsize=1)
def _prompt_template() -> str:
    return resources.files("bot").joinpath("prompts/answer.md").read_text(encoding="utf-8")


class LLMComposer:
    def __init__(self, model: BaseChatModel, name: str) -> None:
        self.model = model
        self.name = name

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMComposer | None:
        return cls(chat_model(settings.llm), settings.llm) if settings.llm else None

    def prompt(self, question: str, language: str, history: list[Turn], retrieval: Retrieval) -> str:
        passages = "\n\n".join(
            f"[{n}] {h.chunk.title} – {h.chunk.section}\n{' '.join(h.chunk.text.split())}"
            for n, h in enumerate(retrieval.hits[:PASSAGES_GIVEN], start=1)
        )
        turns = "".join(f"Tidligere spørgsmål: {t.question}\nTidligere svar: {t.answer}\n\n" for t in history[-3:])
        return _prompt_template().format(
            language_name="dansk" if language == "da" else "engelsk", no_answer=NO_ANSWER,
            history=turns, passages=passages, question=question,
        )

    def compose(self, question: str, language: str, history: list[Turn], retrieval: Retrieval) -> Answer | None:
        """A validated LLM answer, an abstention the LLM chose, or None to fall back."""
        try:
            reply = self.model.invoke(self.prompt(question, language, history, retrieval))
        except Exception as exc:  # network, auth, rate limits: the extractive answer still serves
            log.warning("LLM call failed, falling back to the extractive answer: %s", exc)
            return None
        text = _MARKER_LIST.sub(lambda m: "".join(f"[{n}]" for n in re.findall(r"\d+", m.group(1))),
                                str(reply.content).strip())
        text = _MARKERS_AFTER_END.sub(r" \2\1", text)
        if NO_ANSWER in text:
            return Answer(question=question, language=language, answer=ABSTAIN[language], abstained=True,
                          generator=f"llm:{self.name}")
        given = retrieval.hits[:PASSAGES_GIVEN]
        cited = [int(n) for n in _MARKER.findall(text)]
        if not cited or any(n < 1 or n > len(given) for n in cited):
            log.warning("LLM reply discarded: citations %s not within 1..%d", cited, len(given))
            return None
        uncited = [s for s in _SENTENCE_END.split(text) if any(c.isalpha() for c in s) and not _MARKER.search(s)]
        if uncited:  # every sentence must be backed by a passage
            log.warning("LLM reply discarded: %d sentence(s) without a citation", len(uncited))
            return None
        return self._cited_answer(question, language, text, retrieval)

    def _cited_answer(self, question: str, language: str, text: str, retrieval: Retrieval) -> Answer:
        """Renumber the LLM's markers in order of use; quote the best-matching sentence of each."""
        given = retrieval.hits[:PASSAGES_GIVEN]
        order: dict[int, int] = {}
        quotes: list[Quote] = []
        for sentence in _SENTENCE_END.split(text):
            for n in _MARKER.findall(sentence):
                if int(n) not in order:
                    order[int(n)] = len(order) + 1
                    quotes.append(_best_quote(sentence, given[int(n) - 1].chunk, retrieval))
        renumbered = _MARKER.sub(lambda m: f"[{order[int(m.group(1))]}]", text)
        citations = [citation(n, q, retrieval.snapshot) for n, q in enumerate(quotes, start=1)]
        return Answer(question=question, language=language, answer=renumbered, abstained=False,
                      generator=f"llm:{self.name}", citations=citations)


def _best_quote(sentence: str, chunk: ChunkRecord, retrieval: Retrieval) -> Quote:
    """The passage's sentence sharing most words with the LLM's sentence (ties: closest to the question)."""
    if not chunk.sentences:
        return Quote(chunk, chunk.start, chunk.end, 0.0)
    wanted = set(terms(sentence))
    text = retrieval.snapshot.texts[chunk.doc_id]
    sims = retrieval.snapshot.sentence_matrix(chunk) @ retrieval.vector
    best = max(range(len(chunk.sentences)),
               key=lambda i: (len(wanted & set(terms(text[chunk.sentences[i][0]:chunk.sentences[i][1]]))),
                              float(sims[i])))
    start, end = chunk.sentences[best]
    return Quote(chunk, start, end, float(sims[best]))
