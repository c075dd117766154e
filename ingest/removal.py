"""Removing documents from an index: ``ragqa``'s delete, for the page and the Python API.

Order and crash safety are those of ``ingest --prune``: the catalog (the truth) first, in one
transaction that also moves the generation, so readers stop returning the documents at once;
then their vectors; then the BM25 index is rebuilt from the catalog. A crash after the
catalog commit leaves orphan vectors, which the next ingest's reconcile deletes, and a stale
BM25 index, which ``KeywordIndex.ensure_fresh`` rebuilds: nothing half-written is ever served.

A removed document whose file is still in a folder you ingest comes back with the next ingest
of that folder: delete the file or list it in the folder's ``.ragqaignore`` as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .catalog import Catalog, IndexMismatchError
from .pipeline import IndexLock
from .settings import IndexSettings


@dataclass(frozen=True, slots=True)
class RemovalReport:
    documents: tuple[str, ...]  # doc ids removed
    chunks: int  # chunks (and vectors) deleted


def remove_documents(settings: IndexSettings, doc_ids: Sequence[str]) -> RemovalReport:
    """Delete ``doc_ids`` (catalog rows, vectors, keyword terms) from the index of ``settings``.
    Raises ``ValueError`` naming ids the index does not hold (nothing is removed then) and
    ``IngestBusyError`` while an ingest runs on the index."""
    from .keyword import KeywordIndex
    from .store import ChromaStore

    wanted = list(dict.fromkeys(doc_ids))
    with IndexLock(settings.index_dir):
        catalog = Catalog(settings.index_dir)
        try:
            if not catalog.exists():
                raise IndexMismatchError(f"no index at {settings.index_dir}; build one with: "
                                         f"ragqa ingest PATH --index {settings.index_dir}")
            catalog.check()
            known = catalog.documents()
            unknown = [d for d in wanted if d not in known]
            if unknown:
                raise ValueError(f"unknown document ids {unknown}: the index holds {len(known)} documents; "
                                 "list them with RAG.documents()")
            chunk_ids = [c for d in wanted for c in catalog.chunk_ids_of(d)]
            if wanted:
                with catalog.transaction() as db:
                    for d in wanted:
                        catalog.delete_document(db, d)
                    catalog.bump_generation(db)
                collection = catalog.recorded("collection", settings.collection, IndexSettings().collection)
                ChromaStore(settings.index_dir, collection, settings.chroma_url).delete(chunk_ids)
                KeywordIndex(settings.index_dir).ensure_fresh(catalog)
            return RemovalReport(tuple(wanted), len(chunk_ids))
        finally:
            catalog.close()
