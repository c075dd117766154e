"""Build the retriever a mode names, over one index."""

from __future__ import annotations

from pathlib import Path

from .index import IndexReader
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
                   k: int = 60) -> Retriever:
    """The retriever of ``mode`` (``MODES``) over ``reader``. ``weights``: (dense, BM25) in the
    hybrid fusion, the dense one for each language's list; ``depth``: candidates per list; ``k``:
    the RRF constant; a ``reranker`` reorders the fused (or single) list."""
    from .dense import DenseRetriever
    from .hybrid import HybridRetriever
    from .keyword import BM25Retriever

    if mode == "dense":
        base: Retriever = DenseRetriever(reader)
    elif mode == "bm25":
        base = BM25Retriever(reader)
    elif mode == "hybrid":
        # One dense list per language in the index (E5 prefers same-language passages), and BM25.
        langs = reader.languages()
        if len(langs) < 2:
            return HybridRetriever([DenseRetriever(reader), BM25Retriever(reader)], weights=weights, depth=depth,
                                   k=k, reranker=reranker)
        per_lang: list[Retriever] = [DenseRetriever(reader, lang) for lang in langs]
        return HybridRetriever([*per_lang, BM25Retriever(reader)], weights=[weights[0]] * len(per_lang) + [weights[1]],
                               depth=depth, k=k, reranker=reranker)
    else:
        raise ValueError(f"unknown retrieval mode {mode!r}; allowed: {', '.join(MODES)}")
    if reranker is not None:
        return HybridRetriever([base], depth=depth, reranker=reranker)
    return base
