"""Rerankers: reorder retrieved hits. ``NoopReranker`` keeps the order; ``CrossEncoderReranker``
scores (query, chunk) pairs with a local sentence-transformers CrossEncoder.

ragqa bundles no cross-encoder and never downloads one: the model must already be a local
directory (e.g. one saved with ``CrossEncoder.save(dir)``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.types import Hit


class NoopReranker:
    """Keeps the retriever's order; only cuts to ``top_k``."""

    name = "none"

    def rerank(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        return list(hits) if top_k is None else list(hits)[: max(top_k, 0)]


def order_by_scores(hits: Sequence[Hit], scores: Sequence[float], top_k: int | None = None) -> list[Hit]:
    """New hits ordered by ``scores`` (desc; ties keep input order), renumbered 1..n, cut to top_k.

    Each hit's score becomes its new score, ``retriever`` gets a "+rerank" suffix, and the old
    score/rank are kept in ``details`` (``pre_rerank_score``, ``pre_rerank_rank``).
    """
    if len(scores) != len(hits):
        raise ValueError(f"got {len(scores)} scores for {len(hits)} hits")
    order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
    if top_k is not None:
        order = order[: max(top_k, 0)]
    out = []
    for new_rank, i in enumerate(order, start=1):
        h = hits[i]
        details = {**h.details, "pre_rerank_score": h.score, "pre_rerank_rank": h.rank}
        out.append(
            replace(
                h, score=float(scores[i]), retriever=f"{h.retriever}+rerank", rank=new_rank, details=details
            )
        )
    return out


class CrossEncoderReranker:
    """Cross-encoder reranking from a LOCAL model directory (loaded on first use, offline).

    ``batch_size`` pairs per forward pass; ``max_length`` tokens per (query, chunk) pair
    (longer pairs are truncated by the model's tokenizer).
    """

    def __init__(self, model_dir: str | Path, batch_size: int = 16, max_length: int = 512) -> None:
        self.model_dir = Path(model_dir).expanduser()
        if not self.model_dir.is_dir():
            raise FileNotFoundError(
                f"reranker model directory not found: {self.model_dir}; ragqa bundles no reranker "
                "(none is available offline); point --reranker at a local sentence-transformers "
                "CrossEncoder directory"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_length < 8:
            raise ValueError(f"max_length must be >= 8 tokens, got {max_length}")
        self.batch_size = batch_size
        self.max_length = max_length
        self.name = f"cross-encoder:{self.model_dir.name}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # Never reach a model hub: offline flags before the HF libraries are imported,
                # plus local_files_only for the case they were imported earlier.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    from sentence_transformers import CrossEncoder
                except ImportError as e:
                    raise ImportError(
                        "CrossEncoderReranker needs sentence-transformers: "
                        "pip install torch==2.13.0 sentence-transformers (or pip install 'ragqa[torch]')"
                    ) from e
                self._model = CrossEncoder(
                    str(self.model_dir), max_length=self.max_length, local_files_only=True
                )
            return self._model

    def scores(self, query: str, hits: Sequence[Hit]) -> np.ndarray:
        """Cross-encoder score of each (query, chunk) pair: float [len(hits)]."""
        if not hits:
            return np.zeros(0, dtype=np.float32)
        model = self._load()
        pairs = [(query, h.chunk.embedding_text()) for h in hits]
        out = model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        arr = np.asarray(out, dtype=np.float32)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.shape != (len(hits),):
            raise ValueError(
                f"cross-encoder at {self.model_dir} returned scores of shape {arr.shape} for "
                f"{len(hits)} pairs; a reranker needs a model with one output label (num_labels=1)"
            )
        return arr

    def rerank(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        if not hits:
            return []
        return order_by_scores(hits, self.scores(query, hits).tolist(), top_k)
