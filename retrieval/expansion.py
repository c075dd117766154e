"""A retriever that searches with the query's synonyms added (:mod:`retrieval.synonyms`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .synonyms import Synonyms, expand_query
from .types import Filters, Hit, Retriever, is_lexical


class ExpandingRetriever:
    """``inner`` searched with ``expand_query(query, synonyms)``; its hits as ``inner`` gives them.

    Meant for a lexical list (BM25): a term list gains the documents' words for the question's
    words. A dense list is left alone (measured on FinanceBench: BENCHMARKS.md "Real filings").
    """

    def __init__(self, inner: Retriever, synonyms: Synonyms) -> None:
        self.inner = inner
        self.synonyms = synonyms
        self.name = inner.name
        self.lexical = is_lexical(inner)

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        """The inner list for the expanded query, with the hits that hold one of the added
        phrases whole (the documents' words: "purchases of property, plant and equipment" for
        "capital expenditure") moved first; each part keeps its order."""
        held = [p.lower() for g in self.synonyms.matched_groups(query) for p in g if p.lower() in query.lower()]
        # a variant of the question's own phrase ("capital expenditures") is not the filing's word
        added = tuple(p for p in self.synonyms.expansions(query) if not any(h in p.lower() for h in held))
        hits = self.inner.retrieve(expand_query(query, self.synonyms), top_k=top_k, filters=filters, groups=groups)
        if not added:
            return hits
        whole = [h for h in hits if self.synonyms.holds_any(h.chunk.text, added)]
        rest = [h for h in hits if h not in whole]
        return [replace(h, rank=i + 1) for i, h in enumerate([*whole, *rest])]
