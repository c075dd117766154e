"""Opening an index's parts on first use, each checked against what the index recorded."""

from __future__ import annotations

import threading
from typing import Any

from ingest.catalog import Catalog, IndexMismatchError
from ingest.embedders import Embedder, get_embedder
from ingest.settings import IndexSettings
from ingest.store import ChromaStore


def open_catalog(settings: IndexSettings) -> Catalog:
    """The catalog of ``settings.index_dir``, format-checked; the error names the ingest command."""
    cat = Catalog(settings.index_dir)
    if not cat.exists():
        raise IndexMismatchError(
            f"no index at {settings.index_dir}; build one with: ragqa ingest PATH --index {settings.index_dir}"
        )
    cat.check()
    return cat


def open_store(settings: IndexSettings, catalog: Catalog) -> ChromaStore:
    """The Chroma collection the index recorded (a re-embedded index names a new one)."""
    collection = catalog.recorded("collection", settings.collection, IndexSettings().collection)
    return ChromaStore(settings.index_dir, collection, settings.chroma_url)


def check_embedder(settings: IndexSettings, catalog: Catalog, embedder: Embedder | None) -> Embedder:
    """``embedder`` (default: the one the index recorded), refused unless the index was built with it."""
    emb = embedder
    if emb is None:
        emb = get_embedder(catalog.recorded("embedder_spec", settings.embedder, IndexSettings().embedder))
    built_with = catalog.get_meta("embedder_id")
    if emb.model_id != built_with:
        raise IndexMismatchError(
            f"index {settings.index_dir} was built with embedder {built_with!r}, not "
            f"{emb.model_id!r}; query it with the same embedder or rebuild it with: "
            f"ragqa ingest PATH --index {settings.index_dir} --reindex --embedder <spec>"
        )
    return emb


def open_analyzer(catalog: Catalog) -> Any:
    """The BM25 analyzer the index was built with (Sudachi for Japanese, stems for English)."""
    from ingest.analysis import get_analyzer

    return get_analyzer(catalog.get_meta("analyzer") or "default")


class IndexHandles:
    """The catalog, store, checked embedder and analyzer of one index, each opened on first use
    under one lock (so threads that race to open one get the same object). Cheap to construct."""

    def __init__(self, settings: IndexSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._requested = embedder
        self._lock = threading.RLock()  # re-entrant: opening the store or embedder opens the catalog
        self._catalog: Catalog | None = None
        self._store: ChromaStore | None = None
        self._embedder: Embedder | None = None
        self._analyzer: Any = None

    @property
    def catalog(self) -> Catalog:
        cat = self._catalog
        if cat is None:
            with self._lock:
                cat = self._catalog
                if cat is None:
                    cat = self._catalog = open_catalog(self.settings)
        return cat

    @property
    def store(self) -> ChromaStore:
        store = self._store
        if store is None:
            with self._lock:
                store = self._store
                if store is None:
                    store = self._store = open_store(self.settings, self.catalog)
        return store

    @property
    def embedder(self) -> Embedder:
        emb = self._embedder
        if emb is None:
            with self._lock:
                emb = self._embedder
                if emb is None:
                    emb = self._embedder = check_embedder(self.settings, self.catalog, self._requested)
        return emb

    @property
    def analyzer(self) -> Any:
        analyzer = self._analyzer
        if analyzer is None:
            with self._lock:
                analyzer = self._analyzer
                if analyzer is None:
                    analyzer = self._analyzer = open_analyzer(self.catalog)
        return analyzer

    def close(self) -> None:
        """Close the catalog's connection; the next use reopens it."""
        with self._lock:
            if self._catalog is not None:
                self._catalog.close()
                self._catalog = None
