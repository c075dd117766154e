"""Build the retriever a mode names, over one index."""

from __future__ import annotations

from pathlib import Path

from .expansion import ExpandingRetriever
from .index import IndexReader
from .synonyms import NO_SYNONYMS, Synonyms
from .types import Reranker, Retriever

MODES = ("dense", "bm25", "hybrid")


def make_reranker(spec: str | None) -> Reranker | None:
    """None/"none" -> no reranking; otherwise a local CrossEncoder directory."""
    if not spec or spec == "none":
        return None
    from .rerank import CrossEncoderReranker

    return CrossEncoderReranker(Path(spec))


def make_retriever(reader: IndexReader, mode: str = "hybrid", *, depth: int = 50,
                   weights: tuple[float, float] = (1.0, 1.0), reranker: Reranker | None = None,
                   k: int = 60, synonyms: Synonyms = NO_SYNONYMS, period_weight: float = 0.0,
                   row_weight: float = 0.0, name_weight: float = 0.0) -> Retriever:
    """The retriever of ``mode`` (``MODES``) over ``reader``. ``weights``: (dense, BM25) in the
    hybrid fusion, the dense one for each language's list; ``depth``: candidates per list; ``k``:
    the RRF constant; a ``reranker`` reorders the fused (or single) list. ``synonyms`` expand
    the BM25 query (:mod:`retrieval.synonyms`); ``period_weight`` (hybrid) fuses the candidates
    whose document is of the question's years as one more list (:mod:`retrieval.periods`), and
    ``row_weight`` (hybrid, with ``synonyms``) those holding a table row of the question's line
    item in those years (:mod:`retrieval.line_items`), and ``name_weight`` (hybrid) those whose
    document names the company or other name the question asks about (:mod:`retrieval.names`)."""
    from .dense import DenseRetriever
    from .hybrid import HybridRetriever
    from .keyword import BM25Retriever

    def bm25() -> Retriever:
        inner = BM25Retriever(reader)
        return ExpandingRetriever(inner, synonyms) if synonyms.groups else inner

    if mode == "dense":
        base: Retriever = DenseRetriever(reader)
    elif mode == "bm25":
        base = bm25()
    elif mode == "hybrid":
        # One dense list per language in the index (E5 prefers same-language passages), and BM25.
        langs = reader.languages()
        dense: list[Retriever] = [DenseRetriever(reader)] if len(langs) < 2 else [
            DenseRetriever(reader, lang) for lang in langs]
        return HybridRetriever([*dense, bm25()], weights=[weights[0]] * len(dense) + [weights[1]], depth=depth,
                               k=k, reranker=reranker, period_weight=period_weight,
                               row_weight=row_weight, synonyms=synonyms, name_weight=name_weight)
    else:
        raise ValueError(f"unknown retrieval mode {mode!r}; allowed: {', '.join(MODES)}")
    if reranker is not None:
        return HybridRetriever([base], depth=depth, reranker=reranker)
    return base
