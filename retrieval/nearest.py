"""The unfiltered nearest-neighbour query, memoised so concurrent lists of one search share it."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ingest.store import ChromaStore

NEAREST_MEMO = 8  # entries: the lists of a few concurrent hybrid searches


@dataclass(frozen=True)
class Nearest:
    """An unfiltered nearest-neighbour query.

    ``found``: [(chunk id, cosine)] best first, over every vector in the collection whatever
    its groups (callers keep the visible ones: ``IndexReader.visible``, then ``to_hits``);
    ``complete``: ``found`` holds every vector of the collection, so no chunk is missing from it.
    """

    found: list[tuple[str, float]]
    complete: bool


_Key = tuple[int, int, bytes]  # (catalog generation, n, query vector as float32 bytes)


class NearestMemo:
    """``store.query(vector, n)`` per (catalog generation, n, vector). The dense lists of one
    hybrid search ask for the same query concurrently: the first caller runs the one Chroma
    query, the others wait for its result. A failure is raised to every waiter and not kept."""

    def __init__(self, size: int = NEAREST_MEMO) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._memo: dict[_Key, Future[Nearest]] = {}
        # (generation, Chroma count): count() costs ~25 ms at 100k chunks (measured), more than
        # the HNSW query it sizes. Replaced whole (one atomic assignment), so it needs no lock.
        self._count: tuple[int, int] | None = None

    def get(self, store: ChromaStore, generation: int, vector: npt.NDArray[np.float32], n: int) -> Nearest:
        key = (generation, n, np.ascontiguousarray(vector, dtype=np.float32).tobytes())
        with self._lock:
            fut = self._memo.get(key)
            owner = fut is None
            if fut is None:
                fut = self._memo[key] = Future()
                while len(self._memo) > self._size:  # oldest first; waiters keep their future
                    self._memo.pop(next(iter(self._memo)))
        if not owner:
            return fut.result()
        try:
            res = self._query(store, generation, vector, n)
        except BaseException as e:
            with self._lock:
                if self._memo.get(key) is fut:
                    del self._memo[key]
            fut.set_exception(e)
            raise
        fut.set_result(res)
        return res

    def _query(self, store: ChromaStore, generation: int, vector: npt.NDArray[np.float32], n: int) -> Nearest:
        total = self.count(store, generation)
        found = store.query(vector, n, count=total) if n > 0 else []
        return Nearest(found, complete=len(found) >= total)

    def count(self, store: ChromaStore, generation: int) -> int:
        """Vectors in the collection, asked once per catalog generation."""
        memo = self._count
        if memo is not None and memo[0] == generation:
            return memo[1]
        total = store.count()
        self._count = (generation, total)
        return total
