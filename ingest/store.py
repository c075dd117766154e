"""The vector store: a Chroma collection of chunk vectors plus filterable metadata.

Local ``PersistentClient`` under ``<index>/chroma`` by default; ``HttpClient`` when a server URL
is configured (``RAGQA_CHROMA_URL``). Chroma never embeds anything itself here (no default
embedding function: that one downloads a model); ragqa passes vectors in.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt

from .catalog import IndexMismatchError
from .types import Chunk

CHROMA_DIR = "chroma"
OWNER_KEY = "ragqa_index_uid"  # collection metadata: the catalog (Catalog.index_uid) whose vectors these are
OWNER_DIR_KEY = "ragqa_index_dir"


class CollectionOwnedError(IndexMismatchError):
    """The Chroma collection belongs to another ragqa index."""
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def date_to_int(date: str | None) -> int | None:
    """"2026-04-01" -> 20260401 (Chroma compares only numbers with $gte/$lte)."""
    if not date:
        return None
    digits = date.replace("-", "")[:8]
    return int(digits) if len(digits) == 8 and digits.isdigit() else None


def path_prefixes(source: str) -> list[str]:
    """"hr/policies/leave.md" -> ["hr/", "hr/policies/", "hr/policies/leave.md"]: lets Chroma
    filter by directory prefix with ``$contains`` (it has no string prefix operator)."""
    parts = source.split("/")
    out = ["/".join(parts[: i + 1]) + "/" for i in range(len(parts) - 1)]
    out.append(source)
    return out


def chunk_metadata(c: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": c.doc_id,
        "source": c.source,
        "file_type": c.file_type,
        "lang": c.lang,
        "groups": list(c.groups),
        "paths": path_prefixes(c.source),
        "ordinal": c.ordinal,
    }
    if c.page is not None:
        meta["page"] = c.page
    d = date_to_int(c.date)
    if d is not None:
        meta["date"] = d
    return meta


def validate_collection_name(name: str) -> str:
    if not (3 <= len(name) <= 512) or not set(name) <= _NAME_OK:
        raise ValueError(f"invalid Chroma collection name {name!r}: use 3-512 characters of [a-zA-Z0-9._-]")
    return name


class ChromaStore:
    """Vectors for one index. Cheap to construct; connects on first use."""

    def __init__(self, index_dir: Path, collection: str = "ragqa", url: str | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.collection_name = validate_collection_name(collection)
        self.url = url
        self._client: Any = None
        self._col: Any = None
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return self.url or str(self.index_dir / CHROMA_DIR)

    def _connect(self) -> Any:
        if self._col is not None:
            return self._col
        with self._lock:  # retrievers of one hybrid search connect from several threads at once
            return self._connect_locked()

    def _connect_locked(self) -> Any:
        if self._col is None:
            self._col = self._client_locked().get_or_create_collection(
                self.collection_name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        return self._col

    def _client_locked(self) -> Any:
        """The Chroma client (a server's, or the index's own folder), made on first use."""
        if self._client is None:
            os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
            import chromadb
            from chromadb.config import Settings

            settings = Settings(anonymized_telemetry=False)
            if self.url:
                u = urlparse(self.url)
                if not u.hostname:
                    raise ValueError(f"invalid Chroma server URL {self.url!r}; expected e.g. http://127.0.0.1:8000")
                self._client = chromadb.HttpClient(
                    host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000),
                    ssl=u.scheme == "https", settings=settings,
                )
            else:
                self._client = chromadb.PersistentClient(path=str(self.index_dir / CHROMA_DIR), settings=settings)
        return self._client

    def claim(self, index_uid: str, index_dir: Path, *, take_over: bool = False) -> None:
        """Record ``index_uid`` as the collection's owner, or raise CollectionOwnedError when
        another index owns it: two catalogs over one collection would delete each other's vectors
        as orphans. ``take_over`` (``--reindex``, which drops the vectors anyway) claims it regardless."""
        col = self._connect()
        meta = dict(col.metadata or {})
        owner = meta.get(OWNER_KEY)
        if owner == index_uid:
            return
        if owner is not None and not take_over:
            raise CollectionOwnedError(
                f"Chroma collection {self.collection_name!r} at {self.location} holds the vectors of another ragqa index "
                f"(index id {owner}, in {meta.get(OWNER_DIR_KEY, '?')}); {index_dir} would delete them. Give this index "
                "its own collection (RAGQA_COLLECTION, or collection = \"...\" under [index] in ragqa.toml), or, if "
                "that index is gone, rebuild this one with --reindex (drops the collection's vectors)")
        meta.update({OWNER_KEY: index_uid, OWNER_DIR_KEY: str(index_dir)})
        meta.pop("hnsw:space", None)  # set at creation; Chroma refuses to modify it
        col.modify(metadata=meta)

    def collection_names(self) -> list[str]:
        """Names of every collection at this store's location (this one included once it has
        been used), sorted. Listing creates none."""
        with self._lock:
            client = self._client_locked()
        return sorted(c if isinstance(c, str) else str(c.name) for c in client.list_collections())

    def upsert(self, chunks: Sequence[Chunk], vectors: npt.NDArray[np.float32]) -> None:
        if not chunks:
            return
        self._connect().upsert(
            ids=[c.id for c in chunks],
            embeddings=vectors,
            metadatas=[chunk_metadata(c) for c in chunks],
            documents=[c.text for c in chunks],
        )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self._connect().delete(ids=ids[i : i + 5000])

    def all_ids(self) -> set[str]:
        col = self._connect()
        out: set[str] = set()
        step, offset = 10000, 0
        while True:
            got = col.get(include=[], limit=step, offset=offset)["ids"]
            out.update(got)
            if len(got) < step:
                return out
            offset += step

    def count(self) -> int:
        return int(self._connect().count())

    def query(self, vector: npt.NDArray[np.float32], k: int, where: dict[str, Any] | None = None,
              count: int | None = None) -> list[tuple[str, float]]:
        """[(chunk id, cosine similarity)] best first. ``count``: the collection's size if the
        caller knows it (Chroma's count() is ~25 ms at 100k chunks)."""
        col = self._connect()
        n = col.count() if count is None else count
        if n == 0 or k <= 0:
            return []
        res = col.query(query_embeddings=[vector], n_results=min(k, n), where=where or None, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def get_vectors(self, ids: Sequence[str], page: int = 4000) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """The stored vectors of ``ids``: (float32 [len(ids), dim] in the order of ``ids``, bool
        [len(ids)] True where the collection has the id). Rows of missing ids are zeros; dim is 0
        when none is found. Fetched ``page`` ids per Chroma call (one call for all would build
        the whole response at once; the page size bounds that, 4000 x 384 floats ~ 6 MB)."""
        ids = list(ids)
        if page <= 0:
            raise ValueError(f"page must be a positive number of ids, got {page}")
        pos = {cid: i for i, cid in enumerate(ids)}
        found = np.zeros(len(ids), dtype=np.bool_)
        out: npt.NDArray[np.float32] | None = None
        col = self._connect()
        for start in range(0, len(ids), page):
            res = col.get(ids=ids[start : start + page], include=["embeddings"])
            got = res["ids"]
            if not got:
                continue
            vecs = np.asarray(res["embeddings"], dtype=np.float32)  # [len(got), dim]
            if out is None:
                out = np.zeros((len(ids), vecs.shape[1]), dtype=np.float32)
            rows = np.fromiter((pos[cid] for cid in got), dtype=np.int64, count=len(got))
            out[rows] = vecs  # Chroma does not promise the order of the ids asked for
            found[rows] = True
        return (out if out is not None else np.zeros((len(ids), 0), dtype=np.float32)), found

    def reset(self) -> None:
        """Drop the collection (``--reindex``)."""
        self._connect()
        self._client.delete_collection(self.collection_name)
        self._col = None

    def close(self) -> None:
        self._col = None
        self._client = None
