"""make_retriever / make_reranker: what each mode builds over a real index."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_index import build_index

from retrieval.dense import DenseRetriever
from retrieval.factory import MODES, make_reranker, make_retriever
from retrieval.hybrid import HybridRetriever
from retrieval.index import IndexReader
from retrieval.keyword import BM25Retriever
from retrieval.rerank import CrossEncoderReranker, NoopReranker


def test_single_modes(two_lang: IndexReader) -> None:
    dense = make_retriever(two_lang, "dense")
    assert isinstance(dense, DenseRetriever) and dense.lang is None and dense.reader is two_lang
    bm25 = make_retriever(two_lang, "bm25")
    assert isinstance(bm25, BM25Retriever) and bm25.reader is two_lang
    hits = bm25.retrieve("salary", top_k=3)
    assert hits and all("salary" in h.chunk.text for h in hits)


def test_hybrid_runs_one_dense_list_per_language_and_bm25(two_lang: IndexReader) -> None:
    r = make_retriever(two_lang, "hybrid", depth=7, weights=(0.5, 2.0))
    assert isinstance(r, HybridRetriever) and r.depth == 7 and r.reranker is None and r.cross_lingual
    assert [type(x).__name__ for x in r.retrievers] == ["DenseRetriever", "DenseRetriever", "BM25Retriever"]
    assert [getattr(x, "lang", None) for x in r.retrievers] == ["en", "ja", None]
    assert r.weights == [0.5, 0.5, 2.0]  # the dense weight for each language list
    assert r.retrieve("salary budget", top_k=4)


def test_hybrid_over_one_language(tmp_path: Path) -> None:
    reader = build_index(tmp_path, [(f"d{i}.md", {"lang": "en"}, f"Note {i}: salary budget vpn") for i in range(4)])
    r = make_retriever(reader, "hybrid", weights=(1.0, 3.0))
    assert isinstance(r, HybridRetriever)
    assert [type(x).__name__ for x in r.retrievers] == ["DenseRetriever", "BM25Retriever"]
    assert isinstance(r.retrievers[0], DenseRetriever) and r.retrievers[0].lang is None
    assert r.weights == [1.0, 3.0]
    assert len(r.retrieve("salary", top_k=10)) == 4
    reader.close()


def test_a_reranker_wraps_the_mode(two_lang: IndexReader) -> None:
    rr = NoopReranker()
    dense = make_retriever(two_lang, "dense", depth=12, reranker=rr)
    assert isinstance(dense, HybridRetriever) and dense.reranker is rr and dense.depth == 12
    assert [type(x).__name__ for x in dense.retrievers] == ["DenseRetriever"]
    hybrid = make_retriever(two_lang, "hybrid", reranker=rr)
    assert isinstance(hybrid, HybridRetriever) and hybrid.reranker is rr and len(hybrid.retrievers) == 3
    # the reranked list is the base list, cut after reranking
    base = [h.chunk.id for h in make_retriever(two_lang, "dense").retrieve("vpn server", top_k=5)]
    assert [h.chunk.id for h in dense.retrieve("vpn server", top_k=5)] == base


def test_an_unknown_mode_names_the_allowed_ones(two_lang: IndexReader) -> None:
    assert MODES == ("dense", "bm25", "hybrid")
    with pytest.raises(ValueError, match=r"^unknown retrieval mode 'sparse'; allowed: dense, bm25, hybrid$"):
        make_retriever(two_lang, "sparse")


def test_make_reranker(tmp_path: Path) -> None:
    assert make_reranker(None) is None and make_reranker("") is None and make_reranker("none") is None
    (tmp_path / "model").mkdir()
    rr = make_reranker(str(tmp_path / "model"))  # cheap: the model loads on first use
    assert isinstance(rr, CrossEncoderReranker) and rr.model_dir == tmp_path / "model"
    with pytest.raises(FileNotFoundError, match=r"reranker model directory not found: .*missing; ragqa bundles no reranker"):
        make_reranker(str(tmp_path / "missing"))
