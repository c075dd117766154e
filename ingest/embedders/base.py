"""The embedder contract.

E5-style models embed queries and passages differently ("query: " / "passage: "), so the
protocol keeps them apart. Vectors are L2-normalised float32 rows: cosine == dot product.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns text into vectors. Constructors are cheap; the model loads on first use."""

    #: Stable id written into index manifests, e.g. "intfloat/multilingual-e5-small".
    model_id: str
    #: Vector width, e.g. 384.
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> FloatMatrix:
        """(len(texts), dim) float32, L2-normalised."""
        ...

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """(dim,) float32, L2-normalised."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see for ``text`` as a passage (specials included)."""
        ...

    @property
    def max_tokens(self) -> int:
        """Longest input (tokens, specials included) the model reads without truncating."""
        ...
