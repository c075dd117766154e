"""Query vectors, memoised: a hybrid search asks once per language list for the same query."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

QUERY_MEMO = 256  # query texts kept, one (dim,) float32 vector each


class QueryVectors:
    """``encode(text)`` once per text, the latest ``size`` texts kept. The lock is held while
    encoding, so concurrent lists of one query wait for a single encoding (an encoder that runs
    twice at once would fight itself for the cores); BM25 does not take it and goes on meanwhile."""

    def __init__(self, size: int = QUERY_MEMO) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._memo: dict[str, npt.NDArray[np.float32]] = {}

    def get(self, text: str, encode: Callable[[str], npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        with self._lock:
            vec = self._memo.get(text)
            if vec is None:
                vec = self._memo[text] = encode(text)  # (dim,)
                while len(self._memo) > self._size:
                    self._memo.pop(next(iter(self._memo)))
        return vec
