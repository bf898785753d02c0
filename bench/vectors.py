"""Embeddings the scale bench puts in place of `ingest.sync.load_embeddings` for its ingests.

- `RandomUnitEmbeddings`: a seeded random unit vector per text. Embedding 100k chunks (about 600k
  texts with their sentences) with the model takes hours on 2 cores, and the cost of storing, loading
  and searching vectors does not depend on what they mean. It carries the real model's `name` and
  `dimension`, so the generation it builds is one a replica with the real model opens and queries (the
  reader refuses an index built with other embeddings); its `model_id` differs, so the vector cache
  never hands its vectors to the real model.
- `RecordingEmbeddings`: the real model, noting every batch it embeds and the time it takes, so the
  bench can run the model alone on exactly the same batches and compare rates."""

from __future__ import annotations

import hashlib
import time

import numpy as np

from ingest.embeddings import VectorEmbeddings


class RandomUnitEmbeddings(VectorEmbeddings):
    def __init__(self, name: str, dimension: int, known: dict[str, np.ndarray] | None = None) -> None:
        self.name = name
        self.dimension = dimension
        self.known = known or {}

    @property
    def model_id(self) -> str:
        return f"bench-random-unit/{self.dimension}"

    def _vector(self, text: str) -> np.ndarray:
        if text in self.known:
            return self.known[text]
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dimension, dtype=np.float32)
        return vector / np.linalg.norm(vector)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(text) for text in texts])

    def embed_query_array(self, text: str) -> np.ndarray:
        return self._vector(text)


class RecordingEmbeddings(VectorEmbeddings):
    def __init__(self, model: VectorEmbeddings) -> None:
        self.model = model
        self.name = model.name
        self.dimension = model.dimension
        self.batches: list[tuple[list[str], np.ndarray]] = []
        self.seconds = 0.0  # spent inside the model

    @property
    def model_id(self) -> str:
        return self.model.model_id

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.model.embed_passages(texts)
        self.seconds += time.perf_counter() - started
        if texts:
            self.batches.append((list(texts), vectors))
        return vectors

    def embed_query_array(self, text: str) -> np.ndarray:
        return self.model.embed_query_array(text)
