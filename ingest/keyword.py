"""The keyword (BM25) index beside Chroma, derived from the catalog.

The catalog stores every chunk's BM25 terms, so this index is a cache: it records the catalog
generation it was built from and is rebuilt (atomically, seconds for 100k chunks) whenever the
catalog moved on, which keeps it in sync after incremental updates, deletes and crashes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .catalog import Catalog

KEYWORD_DIR = "keyword"


class KeywordIndex:
    def __init__(self, index_dir: Path) -> None:
        self.dir = Path(index_dir) / KEYWORD_DIR
        self._lock = threading.Lock()

    def is_fresh(self, catalog: Catalog) -> bool:
        from .bm25_index import BM25Index

        try:
            meta = BM25Index.read_meta(self.dir)
        except (FileNotFoundError, ValueError):
            return False
        return bool(meta.get("generation") == str(catalog.generation()) and meta.get("analyzer") == catalog.get_meta("analyzer"))

    def rebuild(self, catalog: Catalog) -> Any:
        from .bm25_index import BM25Index

        generation = str(catalog.generation())
        ids: list[str] = []
        terms: list[list[str]] = []
        for cid, t in catalog.iter_terms():
            ids.append(cid)
            terms.append(t)
        index = BM25Index.build(ids, terms, analyzer=catalog.get_meta("analyzer") or "", generation=generation)
        index.save(self.dir)
        return index

    def ensure_fresh(self, catalog: Catalog) -> None:
        with self._lock:
            if not self.is_fresh(catalog):
                self.rebuild(catalog)

    def load(self, catalog: Catalog) -> Any:
        """The BM25 index matching the catalog now (rebuilt first if it is stale)."""
        from .bm25_index import BM25Index

        with self._lock:
            if not self.is_fresh(catalog):
                return self.rebuild(catalog)
            return BM25Index.load(self.dir, expected_generation=str(catalog.generation()))
