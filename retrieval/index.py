"""Read access to an index built by ``ragqa ingest``: catalog, vectors, BM25, row metadata.

One ``IndexReader`` is shared by the dense, keyword and hybrid retrievers, and by the threads
that run them (a hybrid search runs its lists concurrently; a web process serves many sessions).
It is a facade over one part per concern, each thread-safe on its own lock:

- ``IndexHandles`` (``retrieval.opening``): the catalog, store, analyzer and the embedder,
  checked against the one the index was built with;
- ``LatestBM25View`` (``retrieval.bm25_view``): BM25 and its ``RowMeta``, reloaded when the
  catalog's generation moves (another process ingested meanwhile);
- ``RowMasks`` (``retrieval.rows``): the visibility masks over those rows;
- ``VectorMatrixCache`` (``retrieval.vectors``): every vector in memory, for exact search;
- ``QueryVectors`` and ``NearestMemo``: the query's vector and its unfiltered neighbours,
  shared by the lists of one search.

No two of these locks are ever held at once, so they cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.catalog import Catalog
from ingest.embedders import Embedder
from ingest.settings import IndexSettings
from ingest.store import ChromaStore
from ingest.types import Chunk

from .bm25_view import LatestBM25View
from .nearest import Nearest, NearestMemo
from .opening import IndexHandles
from .query_vectors import QueryVectors
from .rows import RowMasks, RowMeta
from .types import Filters
from .vectors import VectorMatrix, VectorMatrixCache, load_vector_matrix
from .visibility import VisibilityRule

# How a dense list that the unfiltered candidates cannot fill gets its k visible chunks:
# "exact": cosine against every vector held in memory (``IndexReader.vectors``), masked by
# ``allowed_mask``; "chroma": Chroma's filtered query (``where``), which costs ~35 ms at 10k
# chunks and ~480 ms at 100k whatever it matches; "auto": "chroma" for a Chroma server
# (``chroma_url``: pulling every vector over HTTP into each process is the wrong trade there),
# "exact" for the local store.
FILTERED_SEARCH_MODES = ("auto", "exact", "chroma")

__all__ = ["FILTERED_SEARCH_MODES", "IndexReader", "Nearest", "RowMeta", "VectorMatrix", "load_vector_matrix",
           "open_index"]


class IndexReader:
    """``filtered_search``: see ``FILTERED_SEARCH_MODES``. Cheap to construct: every part opens
    on first use."""

    def __init__(self, settings: IndexSettings, embedder: Embedder | None = None,
                 filtered_search: str = "auto") -> None:
        if filtered_search not in FILTERED_SEARCH_MODES:
            raise ValueError(f"invalid filtered_search {filtered_search!r}: use one of {', '.join(FILTERED_SEARCH_MODES)}")
        self.settings = settings
        self.filtered_search = filtered_search
        self._handles = IndexHandles(settings, embedder)
        self._bm25 = LatestBM25View(settings.index_dir)
        self._masks = RowMasks()
        self._vectors = VectorMatrixCache()
        self._queries = QueryVectors()
        self._nearest = NearestMemo()

    @property
    def exact_fallback(self) -> bool:
        """True: filtered dense searches run in memory (``vectors``); False: Chroma ``where``."""
        if self.filtered_search == "auto":
            return not self.settings.chroma_url
        return self.filtered_search == "exact"

    # -- the index's parts -------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self._handles.catalog

    @property
    def store(self) -> ChromaStore:
        return self._handles.store

    @property
    def embedder(self) -> Embedder:
        return self._handles.embedder

    @property
    def analyzer(self) -> Any:
        return self._handles.analyzer

    def languages(self) -> list[str]:
        """Languages of the indexed chunks, most chunks first."""
        return [lang for lang, _ in self.catalog.language_counts()]

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return self.catalog.get_chunks(list(ids))

    # -- dense side --------------------------------------------------------------------------
    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """The query vector (dim,), memoised: a hybrid search asks once per language list."""
        return self._queries.get(text, self.embedder.embed_query)

    def nearest(self, vector: npt.NDArray[np.float32], n: int) -> Nearest:
        """The ``n`` nearest vectors to ``vector`` (dim,), unfiltered; memoised per catalog
        generation, so an ingest by another process is seen by the next search. No permission
        check here: callers keep the visible ones (``visible``, then ``permissions.to_hits``)."""
        return self._nearest.get(self.store, self.catalog.generation(), vector, n)

    def vectors(self) -> VectorMatrix:
        """All chunk vectors in BM25 row order, loaded on first use and again after the catalog
        generation moves (the matrix belongs to one ``RowMeta``). A load takes ~0.35 s per 10k
        chunks, paid by the first search that needs it."""
        _, rows = self.bm25()
        return self._vectors.get(self.store, rows)

    # -- BM25 side ---------------------------------------------------------------------------
    def bm25(self) -> tuple[Any, RowMeta]:
        """(BM25 index, its rows) of the catalog's current generation."""
        view = self._bm25.get(self.catalog)
        return view.index, view.rows

    def doc_freq(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """({term: chunks holding it}, chunks in the index): BM25's statistics, for the answer
        side's lexical-support check (``rag_app.answerability``)."""
        bm25, rows = self.bm25()
        return bm25.doc_freq(terms), len(rows.ids)

    # -- visibility --------------------------------------------------------------------------
    def visible(self, found: Sequence[tuple[str, float]], user_groups: Sequence[str], f: Filters | None,
                limit: int) -> list[tuple[str, float]]:
        """The first ``limit`` results of ``found`` ((chunk id, score) best first) that this caller
        may see and that pass the filters, judged on the in-memory row metadata (``row_mask``), so
        only the chunks returned are read from the catalog; ids the catalog lacks (orphaned
        vectors) are dropped. ``to_hits`` re-checks the chunks."""
        _, rows = self.bm25()
        mask = self.row_mask(rows, user_groups, f)
        pos = rows.pos
        out: list[tuple[str, float]] = []
        for cid, score in found:
            i = pos.get(cid)
            if i is not None and (mask is None or mask[i]):
                out.append((cid, score))
                if len(out) >= limit:
                    break
        return out

    def row_mask(self, rows: RowMeta, user_groups: Sequence[str], f: Filters | None) -> npt.NDArray[np.bool_] | None:
        """``allowed_mask(rows, ...)``, memoised for the latest ``rows`` (``RowMasks``)."""
        return self._masks.get(rows, VisibilityRule.of(user_groups, f))

    def allowed_mask(self, rows: RowMeta, user_groups: Sequence[str], f: Filters | None) -> npt.NDArray[np.bool_] | None:
        """bool [n] rows this caller may see and that pass the filters (None: all rows)."""
        return VisibilityRule.of(user_groups, f).row_mask(rows)

    def close(self) -> None:
        self._handles.close()


def open_index(index_dir: Path | str | None = None, **overrides: Any) -> IndexReader:
    from ingest.settings import load_index_settings

    s = load_index_settings(index_dir=Path(index_dir) if index_dir else None, **overrides)
    return IndexReader(s)
