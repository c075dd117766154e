"""Fit the refusal threshold of one retrieval mode on a labelled question file.

Positives: answerable questions asked with the groups they need. Negatives: unanswerable
questions, and restricted questions asked *without* their groups (a user who may not see the
answer should get "I don't know", not a near miss). The threshold maximises balanced accuracy
(``refusal.calibrate_threshold``) and is stored in the index as ``refusal_threshold:<mode>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    for row in read_qa(qa_file):
        groups = list(row.get("groups") or [])
        _, hits = rag.retrieve(row["question"], groups=groups)
        s = relevance_signal(hits, mode)
        (pos if row["answerable"] else neg).append(s)
        if row["answerable"] and groups:
            _, hits = rag.retrieve(row["question"], groups=[])
            neg.append(relevance_signal(hits, mode))
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
        with cat.transaction() as db:
            cat.set_meta(db, f"refusal_threshold:{mode}", repr(t))
    return cal
