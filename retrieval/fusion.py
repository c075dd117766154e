"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) of several ranked lists."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    k: float = 60,
    weights: Sequence[float] | None = None,
    imputed: Mapping[int, Mapping[str, int]] | None = None,
) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(d) = sum_i w_i / (k + rank_i(d)), ranks 1-based.

    ``imputed[i]`` gives ranks to use for list ``i`` for ids that list does not contain,
    for a retriever that is *blind* to them rather than judging them irrelevant (BM25 cannot
    match a Japanese chunk to an English query: its silence is no evidence). Ids absent from
    every real list are not added.

    A list that does not contain ``d`` adds nothing; an id repeated inside one list counts once,
    at its best (smallest) rank. Returns ``(id, score)`` best first; equal scores are ordered by
    the best rank the id reached in any list, then by id, so the output is deterministic.
    ``weights`` (default all 1.0) must be finite, >= 0, one per ranking.
    """
    if isinstance(rankings, str) or any(isinstance(r, str) for r in rankings):
        raise TypeError(
            "rankings must be a sequence of id lists, e.g. [['a', 'b'], ['b', 'c']], not a string"
        )
    if not (isinstance(k, int | float) and math.isfinite(k) and k > 0):
        raise ValueError(f"k must be a finite number > 0 (60 is the usual choice), got {k!r}")
    if weights is None:
        weights = [1.0] * len(rankings)
    elif len(weights) != len(rankings):
        raise ValueError(
            f"got {len(weights)} weights for {len(rankings)} rankings; give one weight per ranking"
        )
    for i, w in enumerate(weights):
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"weights[{i}] = {w!r}; weights must be finite and >= 0")

    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        seen: set[str] = set()
        for rank, doc in enumerate(ranking, start=1):
            if doc in seen:  # a later repeat: its best rank in this list was already counted
                continue
            seen.add(doc)
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
            if rank < best_rank.get(doc, rank + 1):
                best_rank[doc] = rank
    for i, extra in (imputed or {}).items():
        if not 0 <= i < len(rankings):
            raise ValueError(f"imputed ranks for list {i}, but there are {len(rankings)} rankings")
        present = set(rankings[i])
        for doc, rank in extra.items():
            if doc in scores and doc not in present:
                if rank < 1:
                    raise ValueError(f"imputed rank {rank} for {doc!r} must be >= 1")
                scores[doc] += weights[i] / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], best_rank[item[0]], item[0]))


def cross_language_credit(
    rankings: Sequence[Sequence[str]],
    lexical: Sequence[bool],
    langs: Mapping[str, str],
    query_lang: str,
    offset: int = 1,
) -> dict[int, dict[str, int]]:
    """Ranks to impute (``reciprocal_rank_fusion``'s ``imputed``) where a lexical list is blind.

    A lexical list (``lexical[i]``: BM25) cannot match a chunk written in another language than
    the query, so its silence about one is no evidence against it. Every chunk whose language
    (``langs``: id -> language) is not ``query_lang`` and that a non-lexical list ranks is
    credited in each lexical list at its best non-lexical rank (1-based) plus ``offset``: one
    rank below by default, so on a tie with a chunk that both dense and BM25 ranked first, the
    one with real lexical evidence wins. Returns {list index: {id: rank}}; {} when no list or
    every list is lexical, or no other-language chunk was ranked.
    """
    if len(lexical) != len(rankings):
        raise ValueError(f"got {len(lexical)} lexical flags for {len(rankings)} rankings; give one per ranking")
    if offset < 0:
        raise ValueError(f"offset must be >= 0 (1 credits a chunk one rank below its dense rank), got {offset}")
    if all(lexical) or not any(lexical):
        return {}
    best: dict[str, int] = {}
    for ranking, lex in zip(rankings, lexical, strict=True):
        if lex:
            continue
        for rank, doc in enumerate(ranking, start=1 + offset):
            if langs.get(doc) != query_lang and rank < best.get(doc, rank + 1):
                best[doc] = rank
    if not best:
        return {}
    return {i: dict(best) for i, lex in enumerate(lexical) if lex}
