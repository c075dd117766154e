"""Dense retrieval: embed the query (E5 "query: " side), nearest neighbours in Chroma.

Search strategy (why not simply a filtered Chroma query): Chroma evaluates a metadata ``where``
(groups ``$contains``, lang, type, date, path) over the whole collection before its HNSW search;
measured ~35 ms at 10k chunks and ~480 ms at 100k, paid once per dense list of a hybrid search.
An unfiltered HNSW query costs a few ms. So:

1. ask for the ``overfetch(k)`` nearest vectors *unfiltered* (one query, shared by the
   per-language lists of a hybrid search: ``IndexReader.nearest`` memoises it), and keep the
   chunks this caller may see and that pass the filters (``to_hits``: the catalog's groups and
   metadata, the same final guard as before);
2. if fewer than ``k`` survive and the unfiltered query did not already cover the whole
   collection, run the filtered Chroma query exactly as before (rare groups, narrow filters).

Why step 1 returns what the filtered query returns: let s_N be the N-th (last) score of the
unfiltered top-N. Every chunk outside that list scores <= s_N; when at least k of the listed
chunks are visible, the k-th visible one scores >= s_N, so no unlisted visible chunk can outrank
it: the first k visible chunks of the list *are* the top-k visible chunks (same ids, same order
up to equal scores), for exact search. HNSW is approximate on both sides. The unfiltered
search runs with ef = max(search_ef, N) >= N, a wider beam than a filtered search for k; hnswlib's
filtered search (Chroma's ``where``) instead keeps walking until it holds ef *allowed* chunks.
So near the query the unfiltered route is the more accurate one (measured on the 10k benchmark
index, E5, public caller, top-50 per language list vs exact cosine: recall 0.997 unfiltered
route, 0.980 filtered), while for a subset far from the query (the other language's list,
whose chunks sit in the tail of an approximate top-N) the filtered search can find one the
unfiltered beam passed by (tests/retrieval/test_dense.py measures this). Neither route can
return a chunk the caller may not see: every chunk passes ``to_hits`` against the catalog.

Known limit: E5 ranks the query's own language far above the other, so the *other* language's
list rarely finds k chunks among the top-N (10k index: its 50th chunk is at global rank ~1,200
to ~2,300) and takes the filtered fallback: a hybrid search pays one filtered query instead of two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .index import IndexReader
from .permissions import chroma_where, normalise_groups, to_hits
from .types import Filters, Hit

OVERFETCH_FACTOR = 4
OVERFETCH_MIN_EXTRA = 100


def overfetch(k: int) -> int:
    """Candidates to ask the unfiltered query for, to return ``k`` visible ones: k=10 -> 110,
    k=50 (hybrid depth) -> 200. A public caller of a two-language index keeps about half of
    them per language list; a smaller visible share ends in the filtered fallback."""
    return max(OVERFETCH_FACTOR * k, k + OVERFETCH_MIN_EXTRA)


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
        near = self.reader.nearest(vec, overfetch(top_k))
        hits = to_hits(near.found, near.chunks, ug, filters, "dense")
        if len(hits) >= top_k or near.complete:
            return hits[:top_k]
        # too few visible among the unfiltered candidates: the filtered query, as it always was
        found = self.reader.store.query(vec, top_k, where=chroma_where(ug, filters))
        return to_hits(found, self.reader.chunks([i for i, _ in found]), ug, filters, "dense")
