"""Keyword retrieval: BM25 over the analyzer's terms (Sudachi for Japanese, stems for English)."""

from __future__ import annotations

from collections.abc import Sequence

from .index import IndexReader
from .permissions import is_visible, matches_filters, normalise_groups
from .types import Filters, Hit


class BM25Retriever:
    name = "bm25"
    lexical = True  # matches terms: blind to chunks in another language than the query

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        if top_k <= 0 or not query.strip():
            return []
        ug = normalise_groups(groups)
        bm25, rows = self.reader.bm25()
        mask = self.reader.allowed_mask(rows, ug, filters)
        found = bm25.search(self.reader.analyzer.tokenize(query), top_k, allowed=mask)
        chunks = self.reader.chunks([i for i, _ in found])
        hits: list[Hit] = []
        for cid, score in found:
            c = chunks.get(cid)
            if c is None or not is_visible(c.groups, ug) or not matches_filters(c, filters):
                continue
            hits.append(Hit(chunk=c, score=score, retriever=self.name, rank=len(hits) + 1,
                            details={"bm25_score": score}))
        return hits
