"""``RAG.status()``: what an index holds, read through the catalog's named methods."""

from __future__ import annotations

import datetime as _dt

from ingest.settings import IndexSettings

from .types import IndexStatus


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
