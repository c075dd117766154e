from __future__ import annotations

import numpy as np

from retrieval.training.evaluate import build_eval_set, evaluate, first_relevant_rank, metrics_from_ranks
from retrieval.training.pairs import Pair


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_ranks_and_metrics_match_a_hand_computed_case() -> None:
    p = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    q = _unit([[1, 0.1, 0], [0, 0, 1], [1, 0.9, 0]])
    # q0: best is p0 (rank 0); q1: p2 rank 0 but its relevant is p1 -> rank 1 or 2;
    # q2: relevant {p0, p1}: p3 scores highest, then p0 -> rank 1.
    ranks = first_relevant_rank(q, p, [(0,), (1,), (0, 1)], block=2)
    scores = q @ p.T
    assert ranks[0] == 0
    assert ranks[1] == int((scores[1] > scores[1, 1]).sum())
    assert ranks[2] == 1
    m = metrics_from_ranks(ranks)
    assert m["recall@1"] == round(1 / 3, 4)
    assert m["recall@5"] == 1.0
    assert m["mrr@10"] == round((1 + 1 / (ranks[1] + 1) + 0.5) / 3, 4)
    assert m["queries"] == 3


def test_build_eval_set_adds_distractors_and_drops_unreachable_queries() -> None:
    corpus = {f"c{i}": f"text {i}" for i in range(20)}
    held = [
        Pair("q a", "x", ("c0",), "d0", "ict", "en"),
        Pair("q b", "x", ("c1", "c2"), "d0", "heading", "en"),
        Pair("q c", "x", ("zz",), "d0", "gold", "en"),  # its chunk is not in the corpus
    ]
    es = build_eval_set(held, corpus, ["c0", "c1", "c2"], distractors=5, seed=0)
    assert es.corpus_ids[:3] == ["c0", "c1", "c2"] and len(es.corpus_ids) == 8
    assert len(set(es.corpus_ids)) == 8
    assert es.queries == ["q a", "q b"] and es.relevant == [(0,), (1, 2)]
    assert build_eval_set(held, corpus, ["c0", "c1", "c2"], distractors=5, seed=0) == es
    # perfect vectors: each query equals its first relevant passage
    p = np.eye(8, dtype=np.float32)
    q = p[[0, 1]]
    out = evaluate(es, q, p)
    assert out["all"]["recall@1"] == 1.0 and set(out) == {"all", "ict", "heading"}
