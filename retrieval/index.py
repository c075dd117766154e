"""Read access to an index built by ``ragqa ingest``: catalog, vectors, BM25, row metadata.

One ``IndexReader`` is shared by the dense, keyword and hybrid retrievers. It checks on open
that the embedder matches the one the index was built with, and refreshes its BM25 view when
the catalog's generation moves (another process ingested meanwhile).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.catalog import Catalog, IndexMismatchError
from ingest.embedders import Embedder, get_embedder
from ingest.settings import IndexSettings
from ingest.store import ChromaStore, date_to_int
from ingest.types import Chunk

from .permissions import _prefix_match
from .types import ALL_GROUPS, Filters


@dataclass(frozen=True)
class Nearest:
    """An unfiltered nearest-neighbour query.

    ``found``: [(chunk id, cosine)] best first, over every vector in the collection whatever
    its groups (callers keep the visible ones: ``IndexReader.visible``, then ``to_hits``);
    ``complete``: ``found`` holds every vector of the collection, so no chunk is missing from it.
    """

    found: list[tuple[str, float]]
    complete: bool


_NEAREST_MEMO = 8  # entries: the lists of a few concurrent hybrid searches
_MASK_MEMO = 64  # (groups, filters) combinations kept, n bools each (100 kB at 100k chunks)

# How a dense list that the unfiltered candidates cannot fill gets its k visible chunks:
# "exact": cosine against every vector held in memory (``IndexReader.vectors``), masked by
# ``allowed_mask``; "chroma": Chroma's filtered query (``where``), which costs ~35 ms at 10k
# chunks and ~480 ms at 100k whatever it matches; "auto": "chroma" for a Chroma server
# (``chroma_url``: pulling every vector over HTTP into each process is the wrong trade there),
# "exact" for the local store.
FILTERED_SEARCH_MODES = ("auto", "exact", "chroma")


@dataclass
class _RowMeta:
    """Per-row metadata of the BM25 index, as arrays for fast masks. Row i = ``ids[i]``."""

    ids: list[str]
    group_rows: dict[str, npt.NDArray[np.bool_]]  # group -> bool [n]
    file_type: npt.NDArray[np.str_]  # [n]
    lang: npt.NDArray[np.str_]  # [n]
    date: npt.NDArray[np.int64]  # [n], 0 when unknown
    source: list[str]
    pos: dict[str, int] = field(default_factory=dict)  # chunk id -> row; filled from ids when empty

    def __post_init__(self) -> None:
        if not self.pos:
            self.pos = {cid: i for i, cid in enumerate(self.ids)}


@dataclass(frozen=True)
class VectorMatrix:
    """Every chunk vector of ``rows`` (the BM25 row metadata of the same catalog generation), so
    ``IndexReader.allowed_mask(rows, ...)`` (bool [n] in ``rows.ids`` order) masks it; matrix row
    j is ``rows.ids[perm[j]]``.

    Memory: n x dim x 4 B, ~154 MB at 100k chunks of 384 dims (E5-small), held for the life of
    the reader once a search needed it.
    """

    rows: _RowMeta
    matrix: npt.NDArray[np.float32]  # [n, dim], unit rows in ``perm`` order; zeros for rows without a vector
    has_vector: npt.NDArray[np.bool_]  # [n] in rows order; False: a catalog chunk without a vector (crashed ingest)
    id_rank: npt.NDArray[np.int64]  # [n], rank of rows.ids[i] in sorted id order: ties broken by id
    # [n]: matrix row j holds the vector of row perm[j]. load_vector_matrix groups the rows by
    # language, so a one-language search multiplies one contiguous block (no copy): at 100k chunks
    # a 40 % language block reads 62 MB instead of 154 MB per query
    perm: npt.NDArray[np.int64]


def load_vector_matrix(store: ChromaStore, rows: _RowMeta) -> VectorMatrix:
    """Fetch the vectors of ``rows.ids`` from ``store`` (in pages) and L2-normalise them: ingest
    stores the embedders' unit vectors (norms 1 +- 1e-7 measured on an E5 index); normalising
    again keeps cosine == dot for vectors written by anything else."""
    matrix, found = store.get_vectors(rows.ids)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # [n, 1]
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    id_rank = np.empty(len(rows.ids), dtype=np.int64)
    id_rank[np.argsort(np.asarray(rows.ids, dtype=object), kind="stable")] = np.arange(len(rows.ids))
    perm = np.argsort(np.asarray(rows.lang, dtype=str), kind="stable").astype(np.int64)  # [n], by language
    return VectorMatrix(rows, matrix[perm], found & (norms[:, 0] > 0), id_rank, perm)


class IndexReader:
    """``filtered_search``: see ``FILTERED_SEARCH_MODES``."""

    def __init__(self, settings: IndexSettings, embedder: Embedder | None = None,
                 filtered_search: str = "auto") -> None:
        if filtered_search not in FILTERED_SEARCH_MODES:
            raise ValueError(f"invalid filtered_search {filtered_search!r}: use one of {', '.join(FILTERED_SEARCH_MODES)}")
        self.settings = settings
        self.filtered_search = filtered_search
        self._embedder = embedder
        self._embedder_checked: Embedder | None = None  # set once checked against the index
        self._catalog: Catalog | None = None
        self._store: ChromaStore | None = None
        self._bm25: Any = None
        self._rows: _RowMeta | None = None
        self._generation = -1
        self._lock = threading.Lock()
        self._embed_lock = threading.Lock()
        self._open_lock = threading.RLock()  # lazy opening of catalog/store/embedder, thread-safe
        self._analyzer: Any = None
        self._query_cache: dict[str, npt.NDArray[np.float32]] = {}
        self._nearest_lock = threading.Lock()
        # (catalog generation, n, query vector bytes) -> pending or finished unfiltered query
        self._nearest_memo: dict[tuple[int, int, bytes], Future[Nearest]] = {}
        self._count_memo: tuple[int, int] | None = None  # (catalog generation, Chroma count)
        self._vectors: VectorMatrix | None = None
        self._vectors_lock = threading.Lock()  # one builder; other searches wait for its matrix
        # (user groups, filters) -> allowed_mask over ``_mask_rows`` (the latest rows asked about)
        self._mask_rows: _RowMeta | None = None
        self._mask_memo: dict[tuple[tuple[str, ...], Filters | None], npt.NDArray[np.bool_] | None] = {}
        self._mask_lock = threading.Lock()

    @property
    def exact_fallback(self) -> bool:
        """True: filtered dense searches run in memory (``vectors``); False: Chroma ``where``."""
        if self.filtered_search == "auto":
            return not self.settings.chroma_url
        return self.filtered_search == "exact"

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            with self._open_lock:
                return self._open_catalog()
        return self._catalog

    def _open_catalog(self) -> Catalog:
        if self._catalog is None:
            cat = Catalog(self.settings.index_dir)
            if not cat.exists():
                raise IndexMismatchError(
                    f"no index at {self.settings.index_dir}; build one with: ragqa ingest PATH --index {self.settings.index_dir}"
                )
            cat.check()
            self._catalog = cat
        return self._catalog

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            with self._open_lock:
                return self._open_store()
        return self._store

    def _open_store(self) -> ChromaStore:
        if self._store is None:
            collection = self.catalog.recorded("collection", self.settings.collection, IndexSettings().collection)
            self._store = ChromaStore(self.settings.index_dir, collection, self.settings.chroma_url)
        return self._store

    @property
    def embedder(self) -> Embedder:
        if self._embedder_checked is None:
            with self._open_lock:
                if self._embedder_checked is None:
                    self._embedder_checked = self._open_embedder()
        return self._embedder_checked

    def _open_embedder(self) -> Embedder:
        emb = self._embedder
        if emb is None:
            spec = self.catalog.recorded("embedder_spec", self.settings.embedder, IndexSettings().embedder)
            emb = get_embedder(spec)
        built_with = self.catalog.get_meta("embedder_id")
        if emb.model_id != built_with:
            raise IndexMismatchError(
                f"index {self.settings.index_dir} was built with embedder {built_with!r}, not "
                f"{emb.model_id!r}; query it with the same embedder or rebuild it with: "
                f"ragqa ingest PATH --index {self.settings.index_dir} --reindex --embedder <spec>"
            )
        return emb

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """The query vector, memoised: a hybrid search asks once per language list."""
        # one lock of its own: concurrent lists of one hybrid query wait for a single encoding,
        # while BM25 (under self._lock) goes on in parallel
        with self._embed_lock:
            vec = self._query_cache.get(text)
            if vec is None:
                vec = self.embedder.embed_query(text)  # (dim,)
                self._query_cache[text] = vec
                while len(self._query_cache) > 256:
                    self._query_cache.pop(next(iter(self._query_cache)))
        return vec

    def nearest(self, vector: npt.NDArray[np.float32], n: int) -> Nearest:
        """The ``n`` nearest vectors to ``vector`` (dim,), unfiltered, with their chunks; memoised.

        The dense lists of one hybrid search (one per language) ask for the same query and ``n``
        concurrently: the first caller runs the one Chroma query, the others wait for its result
        and each filters it to its own language. Keyed on the catalog generation, so an ingest by
        another process is seen by the next search. No permission check here: callers filter
        (``permissions.to_hits``), as every result of this method includes restricted chunks.
        """
        key = (self.catalog.generation(), n, np.ascontiguousarray(vector, dtype=np.float32).tobytes())
        with self._nearest_lock:
            fut = self._nearest_memo.get(key)
            owner = fut is None
            if fut is None:
                fut = self._nearest_memo[key] = Future()
                while len(self._nearest_memo) > _NEAREST_MEMO:  # oldest first; waiters keep their future
                    self._nearest_memo.pop(next(iter(self._nearest_memo)))
        if not owner:
            return fut.result()
        try:
            total = self._count(key[0])
            found = self.store.query(vector, n, count=total) if n > 0 else []
            res = Nearest(found, complete=len(found) >= total)
        except BaseException as e:
            with self._nearest_lock:
                if self._nearest_memo.get(key) is fut:
                    del self._nearest_memo[key]  # do not memoise a failure
            fut.set_exception(e)
            raise
        fut.set_result(res)
        return res

    def _count(self, generation: int) -> int:
        """Vectors in the collection, once per catalog generation: Chroma's count() costs ~25 ms
        at 100k chunks (measured), more than the HNSW query it sizes."""
        memo = self._count_memo
        if memo is not None and memo[0] == generation:
            return memo[1]
        total = self.store.count()
        self._count_memo = (generation, total)
        return total

    @property
    def analyzer(self) -> Any:
        if self._analyzer is None:
            from ingest.analysis import get_analyzer

            self._analyzer = get_analyzer(self.catalog.get_meta("analyzer") or "default")
        return self._analyzer

    def languages(self) -> list[str]:
        """Languages of the indexed chunks, most chunks first."""
        return [lang for lang, _ in self.catalog.language_counts()]

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return self.catalog.get_chunks(list(ids))

    # -- BM25 side ---------------------------------------------------------------------------
    def _refresh(self) -> None:
        gen = self.catalog.generation()
        if gen == self._generation and self._bm25 is not None:
            return
        from ingest.keyword import KeywordIndex

        bm25 = KeywordIndex(self.settings.index_dir).load(self.catalog)
        ids = list(bm25.ids)
        pos = {cid: i for i, cid in enumerate(ids)}
        n = len(ids)
        groups: dict[str, npt.NDArray[np.bool_]] = {}
        ftype = np.empty(n, dtype=object)
        lang = np.empty(n, dtype=object)
        date = np.zeros(n, dtype=np.int64)
        source: list[str] = [""] * n
        for c in self.catalog.iter_chunks():
            i = pos.get(c.id)
            if i is None:
                continue
            for g in c.groups:
                groups.setdefault(g, np.zeros(n, dtype=np.bool_))[i] = True
            ftype[i], lang[i], source[i] = c.file_type, c.lang, c.source
            date[i] = date_to_int(c.date) or 0
        self._rows = _RowMeta(ids, groups, ftype.astype(str), lang.astype(str), date, source, pos)
        self._bm25 = bm25
        self._generation = gen

    def bm25(self) -> tuple[Any, _RowMeta]:
        with self._lock:
            self._refresh()
            assert self._rows is not None
            return self._bm25, self._rows

    def doc_freq(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """({term: chunks holding it}, chunks in the index): BM25's statistics, for the answer
        side's lexical-support check (``rag_app.answerability``)."""
        bm25, rows = self.bm25()
        return bm25.doc_freq(terms), len(rows.ids)

    def vectors(self) -> VectorMatrix:
        """All chunk vectors in BM25 row order, loaded on first use and again after the catalog
        generation moves (same invalidation as ``bm25``: the matrix belongs to one ``_RowMeta``).
        A load takes ~0.35 s per 10k chunks (measured: 2,369 chunks in 0.08 s), paid by the first
        search that needs it."""
        _, rows = self.bm25()
        vm = self._vectors
        if vm is not None and vm.rows is rows:
            return vm
        with self._vectors_lock:
            vm = self._vectors
            if vm is None or vm.rows is not rows:
                vm = self._vectors = load_vector_matrix(self.store, rows)
            return vm

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

    def row_mask(self, rows: _RowMeta, user_groups: Sequence[str], f: Filters | None) -> npt.NDArray[np.bool_] | None:
        """``allowed_mask(rows, ...)``, memoised for the latest ``rows`` (one catalog generation):
        at 100k chunks a language filter alone (``np.isin`` over the rows) costs ~1 ms, paid per
        list per query. The memo holds the rows object itself, so a new generation's rows never
        meet an old generation's masks."""
        key = (tuple(user_groups), None if f is None or f.is_empty() else f)
        with self._mask_lock:
            if self._mask_rows is rows and key in self._mask_memo:
                return self._mask_memo[key]
        mask = self.allowed_mask(rows, user_groups, f)
        with self._mask_lock:
            if self._mask_rows is not rows or len(self._mask_memo) >= _MASK_MEMO:
                self._mask_rows, self._mask_memo = rows, {}  # another generation, or too many callers
            self._mask_memo[key] = mask
        return mask

    def allowed_mask(self, rows: _RowMeta, user_groups: Sequence[str], f: Filters | None) -> npt.NDArray[np.bool_] | None:
        """bool [n] rows this caller may see and that pass the filters (None: all rows)."""
        n = len(rows.ids)
        mask: npt.NDArray[np.bool_] | None = None
        if tuple(user_groups) != ALL_GROUPS:
            mask = np.zeros(n, dtype=np.bool_)
            for g in user_groups:
                if g in rows.group_rows:
                    mask |= rows.group_rows[g]
        if f is not None and not f.is_empty():
            m = np.ones(n, dtype=np.bool_) if mask is None else mask
            if f.file_types:
                m &= np.isin(rows.file_type, list(f.file_types))
            if f.langs:
                m &= np.isin(rows.lang, list(f.langs))
            if f.date_from:
                m &= rows.date >= (date_to_int(f.date_from) or 0)
            if f.date_to:
                m &= (rows.date <= (date_to_int(f.date_to) or 0)) & (rows.date > 0)
            if f.source_prefix:
                m &= np.fromiter((_prefix_match(s, f.source_prefix) for s in rows.source), dtype=np.bool_, count=n)
            mask = m
        return mask

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None


def open_index(index_dir: Path | str | None = None, **overrides: Any) -> IndexReader:
    from ingest.settings import load_index_settings

    s = load_index_settings(index_dir=Path(index_dir) if index_dir else None, **overrides)
    return IndexReader(s)
