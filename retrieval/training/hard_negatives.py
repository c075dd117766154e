"""Mined hard negatives: for each training pair, a passage that BM25 ranks high for the query
but that does not answer it.

With in-batch negatives only, the other positives of a batch are random passages: for E5 at loss
scale 100 the first batch's loss is already 0.05 (BENCHMARKS.md), so there is little left to
learn. A lexical neighbour of the query that is *not* its positive is a negative the encoder can
still confuse with the positive; ``MultipleNegativesRankingLoss`` given (anchor, positive,
negative) columns adds the negatives to every query's candidates.

A candidate is usable when it is:

- in the pool (the training documents: a held-out document's passage must not be trained on,
  not even as a negative);
- not one of the pair's relevant chunks;
- not from the pair's document (configurable for synthetic pairs; always for gold pairs, whose
  document may hold other passages that answer the question);
- not holding the pair's answer text (``Pair.answer``; the query sentence itself for inverse-cloze
  pairs): a passage that contains the answer is likely an unlabelled positive (DPR's rule).

Of the usable hits, best BM25 rank first, the first ``skip`` are passed over (the very top of
BM25 is where unlabelled positives concentrate) and the negative is drawn from the next
``window`` (seeded per pair; ``window=1``: the best remaining hit, no randomness).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.types import Chunk

from .pairs import Pair, norm_text, stable_seed

# query text -> [(chunk id, BM25 score)], best first, restricted to the pool
Search = Callable[[str], Sequence[tuple[str, float]]]


@dataclass(frozen=True, slots=True)
class HardNegativeConfig:
    """Knobs of :func:`mine_hard_negatives`. Ranks count usable hits only (the positive, its
    document and answer-holding passages are removed first)."""

    skip: int = 0  # usable hits passed over first (ranks 1..skip)
    window: int = 1  # the negative is drawn (seeded) from the next ``window`` usable hits
    depth: int = 50  # BM25 hits fetched per query
    same_doc: bool = False  # allow a negative from the pair's own document (never for gold pairs)
    exclude_answer: bool = True  # drop passages that contain the pair's answer text (or ICT sentence)

    def __post_init__(self) -> None:
        if self.skip < 0:
            raise ValueError(f"skip must be ≥ 0, got {self.skip}")
        if self.window < 1:
            raise ValueError(f"window must be ≥ 1, got {self.window}")
        if self.depth < self.skip + self.window:
            raise ValueError(
                f"depth ({self.depth}) must be ≥ skip + window ({self.skip + self.window}); raise depth"
            )


@dataclass(frozen=True, slots=True)
class HardNegative:
    chunk_id: str
    passage: str  # the chunk's embedding text (heading path + text, as indexed)
    bm25_rank: int  # 1-based rank in the BM25 list (positive and excluded hits counted)
    score: float  # BM25 score


def _answer_text(pair: Pair) -> str:
    if pair.answer:
        return norm_text(pair.answer)
    if pair.kind == "ict":  # the query is a sentence cut from the positive: a passage holding it is a copy
        return norm_text(pair.query)
    return ""


def usable_negatives(
    pair: Pair,
    hits: Sequence[tuple[str, float]],
    pool: Mapping[str, Chunk],
    config: HardNegativeConfig,
    limit: int | None = None,
) -> list[tuple[int, str, float]]:
    """[(1-based BM25 rank, chunk id, score)] of the hits that may serve as ``pair``'s negative,
    best first, at most ``limit`` (None: all). Hits are ordered by (score desc, chunk id) so
    equal scores do not depend on the index's row order."""
    relevant = set(pair.relevant)
    answer = _answer_text(pair) if config.exclude_answer else ""
    allow_same_doc = config.same_doc and pair.kind != "gold"
    ordered = sorted(hits, key=lambda h: (-h[1], h[0]))
    out: list[tuple[int, str, float]] = []
    for rank, (cid, score) in enumerate(ordered, 1):
        c = pool.get(cid)
        if c is None or cid in relevant:
            continue
        if not allow_same_doc and c.doc_id == pair.doc_id:
            continue
        text = c.embedding_text()
        if text == pair.passage or (answer and answer in norm_text(text)):  # a copy of the positive / holds the answer
            continue
        out.append((rank, cid, score))
        if limit is not None and len(out) >= limit:
            break
    return out


def mine_hard_negatives(
    pairs: Sequence[Pair],
    search: Search,
    pool: Mapping[str, Chunk],
    *,
    config: HardNegativeConfig | None = None,
    seed: int = 0,
) -> list[HardNegative | None]:
    """One hard negative per pair (None: no usable hit in the window; that pair keeps in-batch
    negatives only), aligned with ``pairs``. Deterministic for ``seed``: the draw within the
    window uses a generator seeded by (seed, query, positive chunk)."""
    cfg = config or HardNegativeConfig()
    out: list[HardNegative | None] = []
    for p in pairs:
        usable = usable_negatives(p, search(p.query)[: cfg.depth], pool, cfg, limit=cfg.skip + cfg.window)
        window = usable[cfg.skip : cfg.skip + cfg.window]
        if not window:
            out.append(None)
            continue
        pick = window[0] if len(window) == 1 else random.Random(stable_seed(seed, "hardneg", p.query, p.chunk_id)).choice(window)
        rank, cid, score = pick
        out.append(HardNegative(cid, pool[cid].embedding_text(), rank, score))
    return out


def bm25_search(index_dir: Path | str, pool: Sequence[str], depth: int) -> tuple[Search, Any]:
    """A :data:`Search` over the BM25 index of ``index_dir``, restricted to the chunk ids in
    ``pool``, with the index's own analyzer; and the ``IndexReader`` to close when done."""
    import numpy as np

    from retrieval.index import open_index

    reader = open_index(index_dir)
    bm25, rows = reader.bm25()
    allowed = np.zeros(len(rows.ids), dtype=np.bool_)  # [n rows]
    idx = [rows.pos[c] for c in pool if c in rows.pos]
    allowed[idx] = True
    analyzer = reader.analyzer

    def search(query: str) -> list[tuple[str, float]]:
        return list(bm25.search(analyzer.tokenize(query), depth, allowed=allowed))

    return search, reader


__all__ = [
    "HardNegative",
    "HardNegativeConfig",
    "Search",
    "bm25_search",
    "mine_hard_negatives",
    "usable_negatives",
]
