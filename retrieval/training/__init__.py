"""Label-free fine-tuning of the dense retriever (``ragqa train-retriever``).

- :mod:`.pairs`: (query, passage) pairs from an index's chunks, document-level hold-out split;
- :mod:`.evaluate`: recall@k / MRR@10 on held-out pairs (numpy);
- :mod:`.hard_negatives`: :func:`mine_hard_negatives`, one BM25-mined negative per pair;
- :mod:`.trainer`: :func:`train_retriever` (two-tower, in-batch negatives; a
  :class:`TrainRetrieverConfig` in, a :class:`TrainReport` out) and :func:`run_train_retriever`
  (the CLI command);
- :mod:`.reembed`: :func:`reembed_index`, re-embed an index with the tuned model, atomically.

Importing this package does not import torch; training does, lazily.
"""

from __future__ import annotations

from .hard_negatives import HardNegative, HardNegativeConfig, mine_hard_negatives
from .pairs import Pair, PairConfig, build_pairs, split_pairs
from .reembed import ReembedReport, reembed_index
from .trainer import (
    TrainReport,
    TrainRetrieverConfig,
    TrainRetrieverRun,
    run_train_retriever,
    train_retriever,
)

__all__ = [
    "HardNegative",
    "HardNegativeConfig",
    "Pair",
    "PairConfig",
    "ReembedReport",
    "TrainReport",
    "TrainRetrieverConfig",
    "TrainRetrieverRun",
    "build_pairs",
    "mine_hard_negatives",
    "reembed_index",
    "run_train_retriever",
    "split_pairs",
    "train_retriever",
]
