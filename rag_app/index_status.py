"""``RAG.status()`` and ``RAG.documents()``: what an index holds, read through the catalog's named methods."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from ingest.settings import IndexSettings

from .types import DocumentInfo, IndexStatus


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).isoformat(timespec="seconds")


def index_status(settings: IndexSettings) -> IndexStatus:
    """The status of the index at ``settings.index_dir``; ``exists`` False when nothing was ingested.
    Raises ``IndexMismatchError`` for a folder that holds another format version."""
    from ingest.catalog import Catalog

    cat = Catalog(settings.index_dir)
    base = IndexStatus(index_dir=str(settings.index_dir), exists=False,
                       vector_store=settings.chroma_url or str(settings.index_dir / "chroma"))
    if not cat.exists():
        return base
    try:
        cat.check()
        info = cat.info()
        docs = cat.documents()
        newest = max((d.indexed_at for d in docs.values()), default=None)
        return IndexStatus(
            index_dir=base.index_dir, exists=True, documents=info.documents, chunks=info.chunks,
            embedder_id=info.embedder_id, dim=info.dim, analyzer=info.analyzer,
            format_version=info.format_version, generation=info.generation, vector_store=base.vector_store,
            languages=dict(cat.language_counts()),
            last_ingest=(None if newest is None else
                         _dt.datetime.fromtimestamp(newest, _dt.UTC).isoformat(timespec="seconds")),
        )
    finally:
        cat.close()


def list_documents(settings: IndexSettings, groups: Sequence[str] | None) -> list[DocumentInfo]:
    """The documents of the index that ``groups`` may see (the retrievers' rule: ``public`` always,
    ``["*"]`` all), by source; [] when nothing was ingested."""
    from ingest.catalog import Catalog
    from retrieval.permissions import is_visible, normalise_groups

    cat = Catalog(settings.index_dir)
    if not cat.exists():
        return []
    try:
        cat.check()
        user = normalise_groups(groups)
        docs = [d for d in cat.documents().values() if is_visible(d.groups, user)]
    finally:
        cat.close()
    return [DocumentInfo(doc_id=d.doc_id, source=d.source, root=d.root, file_type=d.file_type, groups=d.groups,
                         title=d.title, date=d.date, chunks=d.n_chunks, size_bytes=d.size_bytes,
                         indexed_at=_iso(d.indexed_at))
            for d in sorted(docs, key=lambda d: (d.source, d.root))]
