"""Hybrid retrieval: dense + BM25 candidates fused by reciprocal rank, then optional rerank."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from ingest.types import Chunk

from .fusion import cross_language_credit, reciprocal_rank_fusion
from .line_items import asks_for_value, line_item_candidates
from .names import asked_names, name_candidates
from .periods import period_candidates, question_years
from .permissions import normalise_groups
from .synonyms import NO_SYNONYMS, Synonyms
from .types import Filters, Hit, QueryPreparingRetriever, Reranker, Retriever, is_lexical
from .visibility import VisibilityRule

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ragqa-retrieve")
_SIGNALS = ("dense_score", "bm25_score")  # the typed relevance fields of ``Hit``


class HybridRetriever:
    """Wires retrievers into ``reciprocal_rank_fusion``; ``depth`` candidates from each.

    Cross-language credit (``cross_lingual``, ``fusion.cross_language_credit``): a retriever
    that declares ``lexical = True`` (BM25) cannot match a chunk written in another language than
    the query, so such a chunk is credited in that list at its best rank among the non-lexical
    (dense) lists plus ``impute_offset``. Measured on docs_corpus/qa.jsonl (BENCHMARKS.md).
    """

    name = "hybrid"
    lexical = False

    def __init__(self, retrievers: Sequence[Retriever], weights: Sequence[float] | None = None,
                 depth: int = 50, k: int = 60, reranker: Reranker | None = None,
                 cross_lingual: bool = True, impute_offset: int = 1, period_weight: float = 0.0,
                 row_weight: float = 0.0, synonyms: Synonyms = NO_SYNONYMS, name_weight: float = 0.0) -> None:
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
        self.impute_offset = impute_offset
        self.period_weight = _list_weight("period_weight", period_weight, "the period list")
        self.row_weight = _list_weight("row_weight", row_weight, "the line-item row list")
        self.name_weight = _list_weight("name_weight", name_weight, "the asked-name list")
        self.synonyms = synonyms

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        if top_k <= 0 or not query.strip():
            return []
        ug = normalise_groups(groups)
        depth = max(self.depth, top_k)
        lists = self._run_lists(query, depth, filters, ug)
        rule = VisibilityRule.of(ug, filters)
        merged = _Merged.of(lists)
        out = self._hits(self._fuse(query, lists, merged), merged, rule,
                         depth if self.reranker is not None else top_k)
        if self.reranker is not None:
            out = self.reranker.rerank(query, out, top_k=top_k)
            out = [replace(h, rank=i + 1) for i, h in enumerate(out) if rule.allows(h.chunk)]
        return out[:top_k]

    def _run_lists(self, query: str, depth: int, filters: Filters | None, ug: Sequence[str]) -> list[list[Hit]]:
        """Every retriever's ``depth`` best hits, in retriever order.

        With several lists, those that need no query vector (BM25) start first and run in the
        pool while this thread encodes the query once (``prepare``) for the others; encoding
        inside the pool, torch's threads fought the lists for the 2 cores (measured at 10k
        chunks: hybrid end-to-end p50 51 ms vs 25 ms for dense alone)."""
        if len(self.retrievers) == 1:
            return [self.retrievers[0].retrieve(query, top_k=depth, filters=filters, groups=ug)]

        def submit(r: Retriever) -> Future[list[Hit]]:
            return _POOL.submit(r.retrieve, query, top_k=depth, filters=filters, groups=ug)

        early = {i: submit(r) for i, r in enumerate(self.retrievers) if not isinstance(r, QueryPreparingRetriever)}
        for r in self.retrievers:
            if isinstance(r, QueryPreparingRetriever):
                r.prepare(query)
        futures = [early[i] if i in early else submit(r) for i, r in enumerate(self.retrievers)]
        return [f.result() for f in futures]

    def _fuse(self, query: str, lists: Sequence[Sequence[Hit]], merged: _Merged) -> list[tuple[str, float]]:
        """(chunk id, RRF score) best first, with the lexical lists' blind spots credited. Three
        more lists, each of candidates in fused order, are fused when they are not empty: with
        ``period_weight`` > 0 those whose document is of the years the question names
        (:mod:`retrieval.periods`); with ``row_weight`` > 0 and a question asking for an amount,
        those holding a table row that names the question's line item (a phrase of a synonym group
        it matches) in those years (:mod:`retrieval.line_items`); with ``name_weight`` > 0 those
        whose document context knows a name the question asks about (:mod:`retrieval.names`)."""
        rankings = [[h.chunk.id for h in hits] for hits in lists]
        imputed = None
        lexical = [is_lexical(r) for r in self.retrievers]
        if self.cross_lingual and any(lexical) and not all(lexical):
            from ingest.lang import detect_lang

            langs = {h.chunk.id: h.chunk.lang for hits in lists for h in hits}
            imputed = cross_language_credit(rankings, lexical, langs, detect_lang(query), self.impute_offset)
        fused = reciprocal_rank_fusion(rankings, k=self.k, weights=self.weights, imputed=imputed)
        extra = [(ids, w) for ids, w in self._structure_lists(query, fused, merged) if ids]
        if not extra:
            return fused
        return reciprocal_rank_fusion([*rankings, *(ids for ids, _ in extra)], k=self.k,
                                      weights=[*self.weights, *(w for _, w in extra)], imputed=imputed)

    def _structure_lists(self, query: str, fused: Sequence[tuple[str, float]],
                         merged: _Merged) -> list[tuple[list[str], float]]:
        """The period, line-item row and asked-name lists, (chunk ids, weight) each."""
        years = question_years(query)
        ids = [cid for cid, _ in fused]
        contexts = [merged.chunk(cid).doc_context for cid in ids]
        out = []
        if self.period_weight > 0 and years:
            out.append(([ids[i] for i in period_candidates(contexts, years)], self.period_weight))
        wants_rows = self.row_weight > 0 and asks_for_value(query)
        phrases = [p for g in self.synonyms.matched_groups(query) for p in g] if wants_rows else []
        if phrases:
            texts = [merged.chunk(cid).text for cid in ids]
            out.append(([ids[i] for i in line_item_candidates(texts, phrases, years)], self.row_weight))
        names = asked_names(query) if self.name_weight > 0 else []
        if names:
            out.append(([ids[i] for i in name_candidates(contexts, names)], self.name_weight))
        return out

    def _hits(self, fused: Sequence[tuple[str, float]], merged: _Merged, rule: VisibilityRule,
              n: int) -> list[Hit]:
        """The first ``n`` fused chunks ``rule`` allows, as hybrid ``Hit``s: the final guard, so a
        list that leaked a chunk loses it here."""
        out: list[Hit] = []
        for cid, score in fused:
            c = merged.chunk(cid)
            if rule.allows(c):
                out.append(Hit(chunk=c, score=score, retriever=self.name, rank=len(out) + 1,
                               details=merged.details[cid], **merged.signals[cid]))
                if len(out) >= n:
                    break
        return out


def _list_weight(name: str, value: float, what: str) -> float:
    """``value`` when it is a valid RRF weight of one of the structure lists (>= 0; 0 = off)."""
    if not value >= 0:
        raise ValueError(f"{name}={value!r}; it must be >= 0 (0 turns {what} off)")
    return value


@dataclass
class _Merged:
    """What the lists say about each chunk id: the first hit seen (its chunk), the diagnostics of
    every list (``<retriever>_score``, ``<retriever>_rank``) and the best typed signal of each kind."""

    first: dict[str, Hit] = field(default_factory=dict)
    details: dict[str, dict[str, float]] = field(default_factory=dict)
    signals: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, lists: Sequence[Sequence[Hit]]) -> _Merged:
        m = cls()
        for hits in lists:
            for h in hits:
                m.add(h)
        return m

    def add(self, h: Hit) -> None:
        cid = h.chunk.id
        self.first.setdefault(cid, h)
        d = self.details.setdefault(cid, {})
        d.update(h.details)
        d[f"{h.retriever}_rank"] = h.rank
        sig = self.signals.setdefault(cid, {})
        for name in _SIGNALS:
            v = getattr(h, name)
            if v is not None:
                sig[name] = max(v, sig.get(name, v))

    def chunk(self, cid: str) -> Chunk:
        return self.first[cid].chunk
