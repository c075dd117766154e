"""Dense retrieval: embed the query (E5 "query: " side), nearest neighbours among the chunk vectors.

Search strategy (why no filtered Chroma query): Chroma evaluates a metadata ``where`` (groups
``$contains``, lang, type, date, path) over the whole collection before its HNSW search; measured
27-47 ms at 10k chunks and ~480 ms at 100k whatever it matches, paid once per dense list of a
hybrid search. An unfiltered HNSW query costs a few ms. So:

1. ask for the ``overfetch(k)`` nearest vectors *unfiltered* (one query, shared by the
   per-language lists of a hybrid search: ``IndexReader.nearest`` memoises it), and keep the
   chunks this caller may see and that pass the filters (``to_hits``: the catalog's groups and
   metadata, the final guard);
2. if fewer than ``k`` survive and the unfiltered query did not already cover the whole
   collection, search *exactly*: cosine of the query against every chunk vector, held in memory
   by the reader (``IndexReader.vectors``, [n, dim] float32, ~154 MB at 100k chunks; loaded from
   Chroma the first time a search needs it, reloaded when the catalog generation moves), masked
   by the same numpy row mask the BM25 side uses (``VisibilityRule.row_mask``: groups, type,
   lang, date, path), top-k by ``exact_top_k``. Cost: one product over the rows that can match,
   memory-bound; the matrix is grouped by language, so a one-language list multiplies one
   contiguous block (~40 % of 100k rows: 62 MB read, ~4 ms measured) instead of all 154 MB
   (~16-23 ms). float16 would halve it at the price of exactness. The result then passes
   ``to_hits``.

Why step 1 returns what a filtered search returns: let s_N be the N-th (last) score of the
unfiltered top-N. Every chunk outside that list scores <= s_N; when at least k of the listed
chunks are visible, the k-th visible one scores >= s_N, so no unlisted visible chunk can outrank
it: the first k visible chunks of the list *are* the top-k visible chunks (same ids, same order
up to equal scores), for exact search. HNSW is approximate; the unfiltered search runs with
ef = max(search_ef, N) >= N, a wider beam than a filtered search for k, so near the query it is
the more accurate one (10k benchmark index, E5, public caller, top-50 per language list vs exact
cosine: recall 0.997 unfiltered route, 0.980 Chroma filtered). Step 2 is exact, so at least as
good as Chroma's filtered HNSW search it replaces, which could miss chunks of a subset far from
the query. Neither step can return a chunk the caller may not see: the row mask holds only
visible rows, and every chunk passes ``to_hits`` against the catalog again.

Step 2 is the common case for one list: E5 ranks the query's own language far above the other,
so the *other* language's list rarely finds k chunks among the top-N (10k index: its 50th chunk
sits at global rank ~1,200 to ~2,300); rare groups and narrow filters take it too.

Chroma server (``chroma_url``): pulling every vector over HTTP into each serving process is the
wrong trade there, so the reader's ``filtered_search="auto"`` keeps Chroma's filtered query
(``where``) for a remote store; ``"exact"`` / ``"chroma"`` force either route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from ingest.lang import detect_lang

from .index import IndexReader
from .permissions import chroma_where, normalise_groups, to_hits
from .types import Filters, Hit
from .vectors import VectorMatrix

OVERFETCH_FACTOR = 4
OVERFETCH_MIN_EXTRA = 100


def overfetch(k: int) -> int:
    """Candidates to ask the unfiltered query for, to return ``k`` visible ones: k=10 -> 110,
    k=50 (hybrid depth) -> 200. A public caller of a two-language index keeps about half of
    them per language list; a smaller visible share ends in the exact fallback."""
    return max(OVERFETCH_FACTOR * k, k + OVERFETCH_MIN_EXTRA)


def exact_top_k(vm: VectorMatrix, query: npt.NDArray[np.float32], allowed: npt.NDArray[np.bool_] | None,
                k: int) -> list[tuple[str, float]]:
    """[(chunk id, cosine)] of the ``k`` best rows of ``vm`` for ``query`` (dim,) among ``allowed``
    (bool [n]; None: every row), best first, equal scores in id order (deterministic); rows
    without a vector never come back."""
    if k <= 0 or vm.matrix.shape[1] == 0:
        return []
    ok = vm.has_vector if allowed is None else allowed & vm.has_vector  # [n] in rows order
    js = np.flatnonzero(ok[vm.perm])  # [m] matrix rows allowed (grouped by language)
    if js.size == 0:
        return []
    q = np.asarray(query, dtype=np.float32)
    if q.shape != (vm.matrix.shape[1],):
        raise ValueError(f"query vector has shape {q.shape}, the index holds {vm.matrix.shape[1]}-dim vectors; "
                         "query with the embedder the index was built with")
    q = q / (np.linalg.norm(q) or 1.0)
    lo, hi = int(js[0]), int(js[-1]) + 1
    # [m]: one contiguous block (a language) unless few rows are allowed: then gather them (copies m x dim)
    scores = vm.matrix[js] @ q if js.size * 4 < hi - lo else (vm.matrix[lo:hi] @ q)[js - lo]
    rows = vm.perm[js]  # [m] in rows order
    if k < rows.size:
        kth = np.partition(scores, rows.size - k)[rows.size - k]
        keep = np.flatnonzero(scores >= kth)  # >= k rows: all ties at the cut, for the id tie-break
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((vm.id_rank[rows], -scores))[:k]
    ids = vm.rows.ids
    return [(ids[i], float(s)) for i, s in zip(rows[order], scores[order], strict=True)]


class DenseRetriever:
    """``lang`` restricts the search to chunks of one language: the hybrid retriever runs one
    per language, because E5 ranks same-language passages above better cross-language ones.
    A ``QueryPreparingRetriever``: ``prepare`` encodes the query ahead of ``retrieve``."""

    lexical = False  # compares vectors: sees chunks in any language

    def __init__(self, reader: IndexReader, lang: str | None = None) -> None:
        self.reader = reader
        self.lang = lang
        self.name = f"dense[{lang}]" if lang else "dense"

    def prepare(self, query: str) -> None:
        """Encode ``query`` now (memoised by the reader): the hybrid retriever calls this before
        running its lists concurrently."""
        if query.strip():
            self.reader.embed_query(query)

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        if top_k <= 0 or not query.strip():
            return []
        ug = normalise_groups(groups)
        if self.lang is not None:
            if filters is not None and filters.langs and self.lang not in filters.langs:
                return []
            filters = replace(filters or Filters(), langs=(self.lang,))
        found = self._search(self.reader.embed_query(query), query, ug, filters, top_k)
        # only the returned chunks are read from the catalog, and checked again there (to_hits)
        return to_hits(found, self.reader.chunks([i for i, _ in found]), ug, filters, "dense")

    def _search(self, vec: npt.NDArray[np.float32], query: str, ug: Sequence[str], filters: Filters | None,
                top_k: int) -> list[tuple[str, float]]:
        """[(chunk id, cosine)] of the ``top_k`` best visible chunks for ``vec`` (dim,): the
        module docstring's two steps."""
        if self.lang is not None and self.reader.exact_fallback and detect_lang(query) != self.lang:
            # the other language's list: E5 ranks the query's own language first, so its top-N
            # rarely holds k chunks of this language and the exact search below follows anyway;
            # go there directly instead of waiting for the shared HNSW query (same result: exact)
            return self._exact(vec, ug, filters, top_k)
        near = self.reader.nearest(vec, overfetch(top_k))
        found = self.reader.visible(near.found, ug, filters, top_k)
        if len(found) >= top_k or near.complete:
            return found
        # too few visible among the unfiltered candidates: search only the visible ones
        if self.reader.exact_fallback:
            return self._exact(vec, ug, filters, top_k)
        return self.reader.store.query(vec, top_k, where=chroma_where(ug, filters))

    def _exact(self, vec: npt.NDArray[np.float32], ug: Sequence[str], filters: Filters | None,
               top_k: int) -> list[tuple[str, float]]:
        """Exact top-k among the visible chunks, over the reader's vector matrix."""
        vm = self.reader.vectors()
        return exact_top_k(vm, vec, self.reader.row_mask(vm.rows, ug, filters), top_k)
