"""Fit the refusal threshold of one retrieval mode on a labelled question file.

Positives: answerable questions asked with the groups they need. Negatives: unanswerable
questions, and restricted questions asked *without* their groups (a user who may not see the
answer should get "I don't know", not a near miss). The threshold maximises balanced accuracy
(``refusal.calibrate_threshold``) and is stored in the index per mode and embedder
(``config.refusal_threshold_key``): re-embedding the index leaves it behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import refusal_threshold_key
from .rag import RAG, relevance_signal


@dataclass(frozen=True)
class Calibration:
    mode: str
    threshold: float
    positives: int
    negatives: int
    balanced_accuracy: float
    refused_answerable: int
    answered_unanswerable: int

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def read_qa(path: Path) -> list[dict[str, Any]]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{i}: not a JSON object ({e})") from None
        for key in ("question", "answerable"):
            if key not in rows[-1]:
                raise ValueError(f"{path}:{i}: missing {key!r}; each line needs question, answerable, groups")
    return rows


def calibrate(rag: RAG, qa_file: Path, *, store: bool = True) -> Calibration:
    from .refusal import balanced_accuracy, calibrate_threshold

    mode = rag.config.answer.mode
    pos: list[float] = []
    neg: list[float] = []

    def signal(question: str, groups: list[str]) -> float:
        _, hits = rag.retrieve(question, groups=groups)
        s = relevance_signal(hits, mode)
        if s is None and hits:
            raise ValueError(f"the {rag.retriever.name!r} retriever's hits carry no relevance score for mode "
                             f"{mode!r} (Hit.dense_score / Hit.bm25_score): nothing to calibrate")
        return s if s is not None else 0.0  # no hits at all: least relevant

    for row in read_qa(qa_file):
        groups = list(row.get("groups") or [])
        (pos if row["answerable"] else neg).append(signal(row["question"], groups))
        if row["answerable"] and groups:
            neg.append(signal(row["question"], []))
    if not pos or not neg:
        raise ValueError(f"{qa_file} needs both answerable and unanswerable questions to calibrate")
    t = calibrate_threshold(pos, neg)
    cal = Calibration(
        mode=mode, threshold=t, positives=len(pos), negatives=len(neg),
        balanced_accuracy=balanced_accuracy(pos, neg, t),
        refused_answerable=sum(1 for s in pos if s < t), answered_unanswerable=sum(1 for s in neg if s >= t),
    )
    if store:
        cat = rag.reader.catalog
        embedder_id = cat.get_meta("embedder_id") or ""
        with cat.transaction() as db:
            cat.set_meta(db, refusal_threshold_key(mode, embedder_id), repr(t))
    return cal
