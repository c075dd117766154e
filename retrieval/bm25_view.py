"""The BM25 index and its row metadata as of one catalog generation, reloaded when it moves."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.catalog import Catalog, IndexMismatchError

from .rows import RowMeta, row_meta

LOAD_ATTEMPTS = 3  # loads tried while another process keeps moving the generation


@dataclass(frozen=True, eq=False)
class BM25View:
    """``index`` (``ingest.bm25_index.BM25Index``) and ``rows`` (row i = ``index.ids[i]``) of
    catalog ``generation``."""

    generation: int
    index: Any
    rows: RowMeta


def load_bm25_view(index_dir: Path, catalog: Catalog) -> BM25View:
    """Load the BM25 index (rebuilt first if it lags the catalog) and its rows' metadata.

    An ingest by another process may replace the index files mid-load (a "not found" or a
    generation mismatch) or commit a new generation after it; then the load is retried, so a
    view never pairs one generation's ids with another's model. After ``LOAD_ATTEMPTS`` the last
    load stands, labelled with the generation read before it, so the next call reloads."""
    from ingest.keyword import KeywordIndex

    for attempt in range(1, LOAD_ATTEMPTS + 1):
        generation = catalog.generation()
        try:
            index = KeywordIndex(index_dir).load(catalog)
        except (FileNotFoundError, IndexMismatchError):
            if attempt == LOAD_ATTEMPTS or catalog.generation() == generation:
                raise
            continue
        if catalog.generation() == generation or attempt == LOAD_ATTEMPTS:
            break
    return BM25View(generation, index, row_meta(index.ids, catalog.iter_chunks()))


class LatestBM25View:
    """The view of the catalog's current generation; one caller reloads it, the others wait."""

    def __init__(self, index_dir: Path) -> None:
        self._index_dir = index_dir
        self._lock = threading.Lock()
        self._view: BM25View | None = None

    def get(self, catalog: Catalog) -> BM25View:
        with self._lock:
            view = self._view
            if view is None or view.generation != catalog.generation():
                view = self._view = load_bm25_view(self._index_dir, catalog)
            return view
