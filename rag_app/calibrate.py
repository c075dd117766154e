"""Fit the refusal threshold of one retrieval mode on a labelled question file.

Positives: answerable questions asked with the groups they need. Negatives: unanswerable
questions, and restricted questions asked *without* their groups (a user who may not see the
answer should get "I don't know", not a near miss). The threshold maximises balanced accuracy
(``refusal.calibrate_threshold``) and is stored in the index per mode and embedder
(``config.refusal_threshold_key``): re-embedding the index leaves it behind.

The question file is read by ``rag_app.qa_file`` (qa.jsonl, SQuAD or ragas format): a line that
does not say whether it is answerable, or is bad otherwise, is skipped and listed in
``Calibration.problems``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .config import refusal_threshold_key
from .qa_file import LineProblem, QARecord, read_qa_file
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
    problems: tuple[LineProblem, ...] = ()  # skipped lines of the question file

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "problems": [str(p) for p in self.problems]}


def read_qa(path: Path) -> tuple[list[QARecord], tuple[LineProblem, ...]]:
    """The labelled questions of ``path`` (each says whether it is answerable) and the skipped lines.
    A missing file, or one without a usable line, is a ValueError naming the first problems."""
    got = read_qa_file(path, require=("answerable",))
    if not got.records:
        first = "; ".join(str(p) for p in got.problems[:3])
        raise ValueError(f"{path}: no usable labelled question ({first}); each line needs question, answerable "
                         "and, for restricted questions, groups")
    return list(got.records), got.problems


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

    records, problems = read_qa(qa_file)
    for rec in records:
        groups = list(rec.groups)
        (pos if rec.answerable else neg).append(signal(rec.question, groups))
        if rec.answerable and groups:
            neg.append(signal(rec.question, []))
    if not pos or not neg:
        raise ValueError(f"{qa_file} needs both answerable and unanswerable questions to calibrate")
    t = calibrate_threshold(pos, neg)
    cal = Calibration(
        mode=mode, threshold=t, positives=len(pos), negatives=len(neg),
        balanced_accuracy=balanced_accuracy(pos, neg, t),
        refused_answerable=sum(1 for s in pos if s < t), answered_unanswerable=sum(1 for s in neg if s >= t),
        problems=problems,
    )
    if store:
        cat = rag.reader.catalog
        embedder_id = cat.get_meta("embedder_id") or ""
        with cat.transaction() as db:
            cat.set_meta(db, refusal_threshold_key(mode, embedder_id), repr(t))
    return cal
