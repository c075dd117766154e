"""A tiny deterministic embedder: character n-gram feature hashing, no model at all.

For tests and for smoke-testing a pipeline in milliseconds. Its vectors carry lexical
overlap only (no semantics), so never use it for real search.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    model_id = "ragqa/hashing-ngram-v1"
    backend = "numpy"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    @property
    def max_tokens(self) -> int:
        return 512

    def _vec(self, text: str) -> npt.NDArray[np.float32]:
        v = np.zeros(self.dim, dtype=np.float32)
        s = text.lower()
        grams = [s[i : i + 3] for i in range(max(len(s) - 2, 1))]
        for g in grams:
            h = int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=4).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vec(t) for t in texts])

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self._vec(text)

    def count_tokens(self, text: str) -> int:
        # ~ one token per word, or per 2 CJK characters: enough to bound chunk sizes in tests.
        words = _WORD.findall(text)
        cjk = sum(1 for ch in text if ord(ch) > 0x2E80)
        return len(words) + cjk // 2 + 2
