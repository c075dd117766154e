"""Retrieval metrics of one question: pure functions over the ranked ids a system retrieved and
the set of gold ids (documents, or chunks where the dataset names them). Binary relevance.

Ranked chunk lists are turned into ranked document lists with ``dedupe`` (first occurrence of
each document), so five chunks of the gold document count once.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def dedupe(ranked: Sequence[str]) -> list[str]:
    """First occurrence of each id, in order: ranked chunks' documents -> ranked documents."""
    return list(dict.fromkeys(ranked))


def _check(gold: Collection[str], k: int) -> None:
    if not gold:
        raise ValueError("no gold ids: retrieval metrics need the gold document or chunk ids of the question")
    if k < 1:
        raise ValueError(f"k={k} must be >= 1")


def hit_at(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """1.0 when any gold id is in the top ``k``."""
    _check(gold, k)
    return float(any(r in gold for r in ranked[:k]))


def recall_at(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Share of the gold ids found in the top ``k`` (= hit@k with one gold id)."""
    _check(gold, k)
    return len(set(ranked[:k]) & set(gold)) / len(set(gold))


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """1 / rank of the first gold id within the top ``k``; 0 when none is there (MRR averages it)."""
    _check(gold, k)
    return next((1.0 / i for i, r in enumerate(ranked[:k], 1) if r in gold), 0.0)


def ndcg_at(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """nDCG@k with binary gains: DCG = sum of 1/log2(rank + 1) over gold ids in the top ``k``
    (each gold id counted once), divided by the DCG of the best possible ranking."""
    _check(gold, k)
    seen: set[str] = set()
    dcg = 0.0
    for i, r in enumerate(ranked[:k], 1):
        if r in gold and r not in seen:
            seen.add(r)
            dcg += 1.0 / math.log2(i + 1)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(set(gold)), k) + 1))
    return dcg / ideal
