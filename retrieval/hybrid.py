"""Hybrid retrieval: dense + BM25 candidates fused by reciprocal rank, then optional rerank."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from .fusion import reciprocal_rank_fusion
from .permissions import is_visible, matches_filters, normalise_groups
from .types import Filters, Hit, Reranker, Retriever

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ragqa-retrieve")


class HybridRetriever:
    """Wires retrievers into ``reciprocal_rank_fusion``; ``depth`` candidates from each.

    Cross-language credit (``cross_lingual``): a lexical retriever (``lexical = True``, BM25)
    cannot match a chunk written in another language than the query, so its silence about such
    a chunk is not evidence against it; the chunk is credited in that list at its best rank
    among the non-lexical (dense) lists. Measured on docs_corpus/qa.jsonl (BENCHMARKS.md).
    """

    name = "hybrid"

    def __init__(self, retrievers: Sequence[Retriever], weights: Sequence[float] | None = None,
                 depth: int = 50, k: int = 60, reranker: Reranker | None = None,
                 cross_lingual: bool = True, impute_from: int | None = None, impute_offset: int = 1) -> None:
        if not retrievers:
            raise ValueError("HybridRetriever needs at least one retriever")
        if weights is not None and len(weights) != len(retrievers):
            raise ValueError(f"got {len(weights)} weights for {len(retrievers)} retrievers; give one per retriever")
        self.retrievers = list(retrievers)
        self.weights = list(weights) if weights is not None else [1.0] * len(retrievers)
        self.depth = depth
        self.k = k
        self.reranker = reranker
        self.cross_lingual = cross_lingual
        # which list's ranks credit the blind spots (None: the best non-lexical rank). The factory
        # passes an all-language dense list (fused with weight 0): a chunk that is only first in
        # its own language's list is not credited as if it were first overall.
        self.impute_from = impute_from
        # credited one rank below where the dense list put it: on a tie with a chunk that both
        # dense and BM25 ranked first, the one with real lexical evidence wins
        self.impute_offset = impute_offset

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        if top_k <= 0 or not query.strip():
            return []
        ug = normalise_groups(groups)
        depth = max(self.depth, top_k)
        if len(self.retrievers) > 1:
            # lists that need no query vector (BM25) start first and run on the second core while
            # this thread encodes the query once (``prepare``) for the others; encoding inside the
            # pool, torch's threads fought the lists for the 2 cores (measured at 10k chunks:
            # hybrid end-to-end p50 51 ms vs 25 ms for dense alone)
            def submit(r: Retriever) -> Future[list[Hit]]:
                return _POOL.submit(r.retrieve, query, top_k=depth, filters=filters, groups=ug)

            needs_vector = [hasattr(r, "prepare") for r in self.retrievers]
            early = {i: submit(r) for i, (r, nv) in enumerate(zip(self.retrievers, needs_vector, strict=True)) if not nv}
            for r, nv in zip(self.retrievers, needs_vector, strict=True):
                if nv:
                    r.prepare(query)  # type: ignore[attr-defined]
            lists = [(early[i] if i in early else submit(r)).result() for i, r in enumerate(self.retrievers)]
        else:
            lists = [self.retrievers[0].retrieve(query, top_k=depth, filters=filters, groups=ug)]
        by_id: dict[str, Hit] = {}
        details: dict[str, dict[str, float]] = {}
        signals: dict[str, dict[str, float]] = {}  # chunk id -> the typed relevance fields its lists measured
        for hits in lists:
            for h in hits:
                by_id.setdefault(h.chunk.id, h)
                details.setdefault(h.chunk.id, {}).update(h.details)
                details[h.chunk.id][f"{h.retriever}_rank"] = h.rank
                sig = signals.setdefault(h.chunk.id, {})
                for name in ("dense_score", "bm25_score"):
                    v = getattr(h, name)
                    if v is not None:
                        sig[name] = max(v, sig.get(name, v))
        imputed = self._blind_spots(query, lists) if self.cross_lingual else None
        fused = reciprocal_rank_fusion([[h.chunk.id for h in hits] for hits in lists], k=self.k,
                                       weights=self.weights, imputed=imputed)
        n_keep = depth if self.reranker is not None else top_k
        out: list[Hit] = []
        for cid, score in fused[:n_keep]:
            c = by_id[cid].chunk
            if not is_visible(c.groups, ug) or not matches_filters(c, filters):
                continue
            out.append(Hit(chunk=c, score=score, retriever=self.name, rank=len(out) + 1, details=details[cid],
                           **signals[cid]))
        if self.reranker is not None:
            out = self.reranker.rerank(query, out, top_k=top_k)
            out = [replace(h, rank=i + 1) for i, h in enumerate(out) if is_visible(h.chunk.groups, ug)]
        return out[:top_k]

    def _blind_spots(self, query: str, lists: Sequence[Sequence[Hit]]) -> dict[int, dict[str, int]]:
        """For each lexical list: {chunk id: best non-lexical rank} of other-language chunks."""
        from ingest.lang import detect_lang

        lexical = [bool(getattr(r, "lexical", False)) for r in self.retrievers]
        if not any(lexical) or all(lexical):
            return {}
        qlang = detect_lang(query)
        best: dict[str, int] = {}
        for i, (hits, lex) in enumerate(zip(lists, lexical, strict=True)):
            if lex or (self.impute_from is not None and i != self.impute_from):
                continue
            for h in hits:
                rank = h.rank + self.impute_offset
                if h.chunk.lang != qlang and rank < best.get(h.chunk.id, rank + 1):
                    best[h.chunk.id] = rank
        return {i: best for i, lex in enumerate(lexical) if lex and best}
