"""Re-embed every chunk of an index with another embedder, switching over atomically.

1. Under the index's ingest lock (no ingest can change the chunk set meanwhile), every chunk of
   the catalog is embedded (``Chunk.embedding_text()``, as ingest does) into a NEW Chroma
   collection ``<settings.collection>-<sha8>``.
2. Its vector count is checked against the catalog.
3. One SQLite transaction sets the catalog meta keys ``embedder_id``, ``dim``,
   ``embedder_spec``, ``collection`` and ``reembedded_at``: the commit point.
4. The old collection is deleted.

Killed before step 3, the index is untouched (the catalog still names the old embedder and
collection; the half-filled new collection is deleted by the next re-embed). Killed after it,
only an unused old collection is left behind (also deleted by the next re-embed).

The catalog's ``generation`` is not bumped: chunks and BM25 terms do not change.
Readers must take the collection name from meta ``collection`` when present (else
``settings.collection``) and may default their embedder to meta ``embedder_spec``.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingest.settings import IndexSettings, load_index_settings

#: Catalog meta keys written by :func:`reembed_index`; ingest writes all but ``reembedded_at`` on creation.
META_EMBEDDER_ID = "embedder_id"
META_DIM = "dim"
META_EMBEDDER_SPEC = "embedder_spec"  # spec string for get_embedder(), e.g. "e5-torch:/abs/dir"
META_COLLECTION = "collection"  # Chroma collection that holds this index's vectors
META_REEMBEDDED_AT = "reembedded_at"  # unix time (float, as text) of the switch

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ReembedReport:
    index_dir: str
    embedder_spec: str
    embedder_id: str
    previous_embedder_id: str
    dim: int
    chunks: int
    collection: str
    previous_collection: str
    stale_collections_removed: list[str]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def current_collection(catalog: Any, settings: IndexSettings) -> str:
    """The collection the index's vectors live in: meta ``collection``, else the setting."""
    return str(catalog.get_meta(META_COLLECTION) or settings.collection)


def new_collection_name(base: str, embedder_id: str, salt: str) -> str:
    """``<base>-<sha8>``; the salt (time) keeps it fresh when the same model is re-embedded."""
    return f"{base}-{hashlib.sha256(f'{embedder_id}|{salt}'.encode()).hexdigest()[:8]}"


def is_reembed_collection(name: str, base: str) -> bool:
    return re.fullmatch(re.escape(base) + r"-[0-9a-f]{8}", name) is not None


def _drop_collection(store: Any) -> None:
    # Already gone, or a server hiccup: a leftover is harmless and removed by the next re-embed.
    with contextlib.suppress(Exception):
        store.reset()


def reembed_index(
    index_dir: Path | str,
    embedder_spec: str,
    *,
    settings: IndexSettings | None = None,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> ReembedReport:
    """Re-embed the index at ``index_dir`` with ``embedder_spec`` and switch to it (see module doc).

    ``settings`` supplies the base collection name and Chroma URL (default: ragqa.toml / env with
    ``index_dir``). ``batch_size`` chunks are read, embedded and upserted at a time.
    """
    from ingest.catalog import Catalog
    from ingest.embedders import get_embedder
    from ingest.pipeline import IndexLock
    from ingest.store import ChromaStore

    say = progress or (lambda _m: None)
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    t0 = time.perf_counter()
    index_dir = Path(index_dir).expanduser().resolve()
    s = settings or load_index_settings(index_dir=index_dir)
    catalog = Catalog(index_dir)
    if not catalog.exists():
        raise FileNotFoundError(f"no index at {index_dir}; build one with: ragqa ingest PATH --index {index_dir}")
    embedder = get_embedder(embedder_spec)
    with IndexLock(index_dir):
        try:
            catalog.check()
            old_id = catalog.get_meta(META_EMBEDDER_ID) or ""
            old_col = current_collection(catalog, s)
            n_chunks = catalog.chunk_count()
            name = new_collection_name(s.collection, embedder.model_id, str(time.time_ns()))
            stale = _drop_leftovers(index_dir, s, old_col)
            say(f"re-embedding {n_chunks} chunks with {embedder.model_id} into collection {name}")
            new = ChromaStore(index_dir, name, s.chroma_url)
            try:
                _embed_all(catalog, embedder, new, batch_size, n_chunks, lambda m: say(f"{m} ({time.perf_counter() - t0:.0f} s)"))
            except BaseException:
                _drop_collection(new)
                raise
            _switch(catalog, embedder, embedder_spec, name)
            if old_col != name:
                _drop_collection(ChromaStore(index_dir, old_col, s.chroma_url))
            say(f"switched {index_dir} to {embedder.model_id} (collection {name})")
        finally:
            catalog.close()
    return ReembedReport(
        index_dir=str(index_dir),
        embedder_spec=embedder_spec,
        embedder_id=embedder.model_id,
        previous_embedder_id=old_id,
        dim=int(embedder.dim),
        chunks=n_chunks,
        collection=name,
        previous_collection=old_col,
        stale_collections_removed=stale,
        seconds=round(time.perf_counter() - t0, 2),
    )


def _drop_leftovers(index_dir: Path, s: IndexSettings, live: str) -> list[str]:
    """Delete the collections of earlier killed re-embeds (never ``live``); their names, sorted."""
    from ingest.store import ChromaStore

    stale = [c for c in ChromaStore(index_dir, live, s.chroma_url).collection_names()
             if c != live and is_reembed_collection(c, s.collection)]
    for name in stale:
        _drop_collection(ChromaStore(index_dir, name, s.chroma_url))
    return stale


def _embed_all(catalog: Any, embedder: Any, store: Any, batch_size: int, n_chunks: int, say: Progress) -> None:
    """Every catalog chunk into ``store``, ``batch_size`` at a time; RuntimeError when the
    store's count then differs from ``n_chunks``."""
    batch: list[Any] = []  # Chunk
    done = 0
    for chunk in catalog.iter_chunks():
        batch.append(chunk)
        if len(batch) >= batch_size:
            store.upsert(batch, embedder.embed_documents([b.embedding_text() for b in batch]))
            done += len(batch)
            batch = []
            say(f"{done}/{n_chunks} chunks")
    if batch:
        store.upsert(batch, embedder.embed_documents([b.embedding_text() for b in batch]))
    have = store.count()
    if have != n_chunks:
        raise RuntimeError(
            f"re-embedding wrote {have} vectors for {n_chunks} chunks; the index is unchanged, run it again"
        )


def _switch(catalog: Any, embedder: Any, embedder_spec: str, collection: str) -> None:
    """The commit point: one transaction points the catalog at the new embedder and collection."""
    with catalog.transaction() as db:
        catalog.set_meta(db, META_EMBEDDER_ID, embedder.model_id)
        catalog.set_meta(db, META_DIM, str(embedder.dim))
        catalog.set_meta(db, META_EMBEDDER_SPEC, embedder_spec)
        catalog.set_meta(db, META_COLLECTION, collection)
        catalog.set_meta(db, META_REEMBEDDED_AT, str(time.time()))


__all__ = [
    "META_COLLECTION",
    "META_DIM",
    "META_EMBEDDER_ID",
    "META_EMBEDDER_SPEC",
    "META_REEMBEDDED_AT",
    "ReembedReport",
    "current_collection",
    "is_reembed_collection",
    "new_collection_name",
    "reembed_index",
]
