"""Re-embedding switches an index to a new embedder in one step, and a failure changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.catalog import Catalog
from ingest.embedders.hashing import HashingEmbedder
from ingest.settings import IndexSettings
from ingest.store import ChromaStore
from retrieval.training.reembed import is_reembed_collection, new_collection_name, reembed_index


class _Scaled(HashingEmbedder):
    """The hashing embedder under another id, with different vectors (a sign flip)."""

    model_id = "test/flipped-hashing"

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return -super().embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return -super().embed_query(text)


class _Dies(HashingEmbedder):
    model_id = "test/dies"
    calls = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        type(self).calls += 1
        if type(self).calls >= 2:
            raise KeyboardInterrupt("killed mid-way")
        return super().embed_documents(texts)


def _settings(index: Path) -> IndexSettings:
    return IndexSettings(index_dir=index, embedder="hashing")


def _meta(index: Path) -> dict[str, str | None]:
    cat = Catalog(index)
    try:
        return {k: cat.get_meta(k) for k in ("embedder_id", "dim", "embedder_spec", "collection", "generation")}
    finally:
        cat.close()


def test_collection_names() -> None:
    a = new_collection_name("ragqa", "m", "1")
    assert is_reembed_collection(a, "ragqa") and a != new_collection_name("ragqa", "m", "2")
    assert not is_reembed_collection("ragqa", "ragqa")
    assert not is_reembed_collection("other-0123abcd", "ragqa")


def test_reembed_switches_meta_and_collection(hashing_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.embedders as emb

    before = _meta(hashing_index)
    n = ChromaStore(hashing_index, "ragqa").count()
    assert n > 0 and before["collection"] == "ragqa"
    monkeypatch.setattr(emb, "get_embedder", lambda spec: _Scaled() if spec == "flipped" else HashingEmbedder())

    rep = reembed_index(hashing_index, "flipped", settings=_settings(hashing_index), batch_size=7)
    after = _meta(hashing_index)
    assert after == {"embedder_id": "test/flipped-hashing", "dim": before["dim"], "embedder_spec": "flipped",
                     "collection": rep.collection, "generation": before["generation"]}
    assert rep.chunks == n and rep.previous_collection == "ragqa"
    assert is_reembed_collection(rep.collection, "ragqa")

    new = ChromaStore(hashing_index, rep.collection)
    assert new.count() == n
    cat = Catalog(hashing_index)
    c = next(cat.iter_chunks())
    cat.close()
    hits = new.query(_Scaled().embed_documents([c.embedding_text()])[0], k=1)
    assert hits[0][0] == c.id and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert ChromaStore(hashing_index, "ragqa").count() == 0  # the old collection was dropped

    # a second switch replaces the first tuned collection, not the base name
    rep2 = reembed_index(hashing_index, "flipped", settings=_settings(hashing_index))
    assert rep2.previous_collection == rep.collection and rep2.collection != rep.collection
    assert ChromaStore(hashing_index, rep.collection).count() == 0


def test_a_failed_reembed_leaves_the_index_as_it_was(hashing_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.embedders as emb

    before = _meta(hashing_index)
    n = ChromaStore(hashing_index, "ragqa").count()
    monkeypatch.setattr(emb, "get_embedder", lambda spec: _Dies())
    with pytest.raises(KeyboardInterrupt):
        reembed_index(hashing_index, "dies", settings=_settings(hashing_index), batch_size=5)
    assert _meta(hashing_index) == before
    assert ChromaStore(hashing_index, "ragqa").count() == n

    names = ChromaStore(hashing_index, "ragqa").collection_names()
    assert not [c for c in names if is_reembed_collection(c, "ragqa")]  # the half-built one was dropped


def test_the_index_reader_follows_the_switch(hashing_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.embedders as emb
    from ingest.catalog import IndexMismatchError
    from retrieval.dense import DenseRetriever
    from retrieval.index import IndexReader

    monkeypatch.setattr(emb, "get_embedder", lambda spec: _Scaled())
    rep = reembed_index(hashing_index, "flipped", settings=_settings(hashing_index))
    # the reader takes the collection from the catalog; the default settings name none
    reader = IndexReader(IndexSettings(index_dir=hashing_index), embedder=_Scaled())
    assert reader.store.collection_name == rep.collection
    cat = Catalog(hashing_index)
    c = next(cat.iter_chunks())
    cat.close()
    hits = DenseRetriever(reader).retrieve(c.embedding_text(), top_k=3)
    assert hits and hits[0].chunk.id == c.id
    reader.close()
    # querying with the embedder the index was built with before the switch is refused
    stale = IndexReader(IndexSettings(index_dir=hashing_index), embedder=HashingEmbedder())
    with pytest.raises(IndexMismatchError, match="flipped-hashing"):
        _ = stale.embedder
    stale.close()
