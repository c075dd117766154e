"""Dense retrieval: embed the query (E5 "query: " side), nearest neighbours in Chroma."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .index import IndexReader
from .permissions import chroma_where, normalise_groups, to_hits
from .types import Filters, Hit


class DenseRetriever:
    """``lang`` restricts the search to chunks of one language: the hybrid retriever runs one
    per language, because E5 ranks same-language passages above better cross-language ones."""

    lexical = False  # sees across languages

    def __init__(self, reader: IndexReader, lang: str | None = None) -> None:
        self.reader = reader
        self.lang = lang
        self.name = f"dense[{lang}]" if lang else "dense"

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        if top_k <= 0 or not query.strip():
            return []
        ug = normalise_groups(groups)
        if self.lang is not None:
            if filters is not None and filters.langs and self.lang not in filters.langs:
                return []
            filters = replace(filters or Filters(), langs=(self.lang,))
        vec = self.reader.embed_query(query)  # (dim,)
        found = self.reader.store.query(vec, top_k, where=chroma_where(ug, filters))
        return to_hits(found, self.reader.chunks([i for i, _ in found]), ug, filters, "dense")
