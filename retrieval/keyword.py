"""Keyword retrieval: BM25 over the analyzer's terms (Sudachi for Japanese, stems for English)."""

from __future__ import annotations

from collections.abc import Sequence

from .index import IndexReader
from .permissions import normalise_groups, to_hits
from .types import Filters, Hit


class BM25Retriever:
    name = "bm25"
    lexical = True  # matches terms: blind to chunks in another language than the query (LexicalCapability)

    def __init__(self, reader: IndexReader) -> None:
        self.reader = reader

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        if top_k <= 0 or not query.strip():
            return []
        ug = normalise_groups(groups)
        bm25, rows = self.reader.bm25()
        mask = self.reader.row_mask(rows, ug, filters)  # memoised per groups and filters
        found = bm25.search(self.reader.analyzer.tokenize(query), top_k, allowed=mask)
        return to_hits(found, self.reader.chunks([i for i, _ in found]), ug, filters, self.name)
