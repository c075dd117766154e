"""Held-out retrieval quality of an embedder: recall@k and MRR@10 over a small search corpus.

Pure numpy: the caller passes already-embedded, L2-normalised query and passage matrices.
The corpus is every chunk of the held-out documents plus a seeded sample of other chunks as
distractors, so scores are comparable before and after training on the same set.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .pairs import Pair, stable_seed

KS: tuple[int, ...] = (1, 5, 10)
MRR_AT = 10


@dataclass(frozen=True, slots=True)
class EvalSet:
    """Queries and the corpus they are searched in. ``relevant[i]`` are corpus row indices."""

    queries: list[str]
    kinds: list[str]
    corpus_ids: list[str]
    corpus_texts: list[str]
    relevant: list[tuple[int, ...]]


def build_eval_set(
    held: Sequence[Pair],
    corpus: Mapping[str, str],
    held_doc_chunks: Sequence[str],
    *,
    distractors: int = 2000,
    max_queries: int | None = 500,
    seed: int = 0,
) -> EvalSet:
    """Queries of ``held`` (a seeded sample of ``max_queries``) against the chunks
    ``held_doc_chunks`` (every chunk of the held-out documents) plus up to ``distractors`` other
    chunks of ``corpus`` (chunk id -> indexed text). A query none of whose relevant chunks is in
    the corpus is dropped."""
    ids = list(dict.fromkeys(held_doc_chunks))
    chosen = set(ids)
    others = sorted(cid for cid in corpus if cid not in chosen)
    rng = random.Random(stable_seed(seed, "distractors"))
    ids += rng.sample(others, min(distractors, len(others)))
    row = {cid: i for i, cid in enumerate(ids)}
    qs = list(held)
    if max_queries is not None and len(qs) > max_queries:
        qs = random.Random(stable_seed(seed, "eval-queries")).sample(qs, max_queries)
    queries, kinds, relevant = [], [], []
    for p in qs:
        rel = tuple(row[c] for c in p.relevant if c in row)
        if rel:
            queries.append(p.query)
            kinds.append(p.kind)
            relevant.append(rel)
    return EvalSet(queries, kinds, ids, [corpus[c] for c in ids], relevant)


def first_relevant_rank(
    q: npt.NDArray[np.float32], p: npt.NDArray[np.float32], relevant: Sequence[Sequence[int]], block: int = 256
) -> npt.NDArray[np.int64]:
    """0-based rank of each query's best-scoring relevant passage by cosine (ties count against it).

    ``q``: (n_queries, dim), ``p``: (n_passages, dim), both L2-normalised. Scores are computed
    ``block`` queries at a time: memory is block × n_passages floats."""
    if q.shape[0] != len(relevant):
        raise ValueError(f"{q.shape[0]} query vectors but {len(relevant)} relevance lists")
    ranks = np.empty(q.shape[0], dtype=np.int64)
    for s in range(0, q.shape[0], block):
        scores = q[s : s + block] @ p.T  # (b, n_passages)
        mask = np.zeros(scores.shape, dtype=bool)
        for j, rel in enumerate(relevant[s : s + block]):
            mask[j, list(rel)] = True
        best = np.where(mask, scores, -np.inf).max(axis=1)  # (b,)
        ranks[s : s + block] = (scores > best[:, None]).sum(axis=1)
    return ranks


def metrics_from_ranks(ranks: npt.NDArray[np.int64], ks: Sequence[int] = KS, mrr_at: int = MRR_AT) -> dict[str, float]:
    """``recall@k`` (share of queries with a relevant passage in the top k) and ``mrr@10``."""
    if ranks.size == 0:
        return {**{f"recall@{k}": 0.0 for k in ks}, f"mrr@{mrr_at}": 0.0, "queries": 0}
    out: dict[str, float] = {f"recall@{k}": round(float((ranks < k).mean()), 4) for k in ks}
    rr = np.where(ranks < mrr_at, 1.0 / (ranks + 1.0), 0.0)
    out[f"mrr@{mrr_at}"] = round(float(rr.mean()), 4)
    out["queries"] = int(ranks.size)
    return out


def evaluate(
    es: EvalSet, q: npt.NDArray[np.float32], p: npt.NDArray[np.float32]
) -> dict[str, dict[str, float]]:
    """Metrics over all queries (``"all"``) and per pair kind."""
    ranks = first_relevant_rank(q, p, es.relevant)
    out = {"all": metrics_from_ranks(ranks)}
    kinds = np.asarray(es.kinds)
    for kind in sorted(set(es.kinds)):
        out[kind] = metrics_from_ranks(ranks[kinds == kind])
    return out


__all__ = ["KS", "MRR_AT", "EvalSet", "build_eval_set", "evaluate", "first_relevant_rank", "metrics_from_ranks"]
