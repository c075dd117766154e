"""The harness's view of a question file: ``rag_app.qa_file`` reads it (every format, bad lines
reported and skipped); this module turns its records into the ``Question`` every system gets and
the ``Dataset`` a run stores.

Formats: ragqa's ``qa.jsonl``, SQuAD / JSQuAD JSON (the gold document of a question is
``<article index:03d>-<title slug>/<paragraph index:03d>.txt``, the layout
``benchmarks/common.load_qa_set`` writes), a ragas ``EvaluationDataset`` JSONL (its ``response``
is ignored: systems answer) and a plain CSV/JSONL question list (no references: the report is a
batch answer report). A bad line is reported as ``file:line: reason`` and skipped; a file with no
usable question is a ``DatasetError`` naming the first problems and the fix.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app.qa_file import FORMATS, LANGS, LineProblem, QARecord, read_qa_file

__all__ = ["FORMATS", "LANGS", "Dataset", "DatasetError", "LineProblem", "Question", "load_dataset", "question_of"]


class DatasetError(ValueError):
    """A question file that cannot be used at all (missing, empty, every line bad)."""


@dataclass(frozen=True, slots=True)
class Question:
    """One question as every system gets it, with what scoring needs.

    ``golds``: reference answers (empty when the file gives none). ``answerable``: None when the
    file does not say (a plain question list). ``gold_sources``: documents that hold the answer;
    ``gold_chunk_ids``: chunks, where known. ``topic``: the per-source breakdown label (the gold
    document's top folder, or the SQuAD article title).
    """

    qid: str
    text: str
    lang: str
    golds: tuple[str, ...] = ()
    answerable: bool | None = None
    groups: tuple[str, ...] = ()
    gold_sources: tuple[str, ...] = ()
    gold_chunk_ids: tuple[str, ...] = ()
    reference_contexts: tuple[str, ...] = ()
    topic: str = ""

    @property
    def has_reference(self) -> bool:
        """Scoring is possible: a reference answer, or the question is known to be unanswerable."""
        return bool(self.golds) or self.answerable is False

    def input_hash(self) -> str:
        """sha256 of what reaches a system (the text and the asker's groups): part of the answer key."""
        data = json.dumps({"q": self.text, "groups": list(self.groups)}, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"qid": self.qid, "text": self.text, "lang": self.lang, "golds": list(self.golds),
                "answerable": self.answerable, "groups": list(self.groups),
                "gold_sources": list(self.gold_sources), "gold_chunk_ids": list(self.gold_chunk_ids),
                "reference_contexts": list(self.reference_contexts), "topic": self.topic}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Question:
        return cls(qid=str(d["qid"]), text=str(d["text"]), lang=str(d["lang"]), golds=tuple(d.get("golds") or ()),
                   answerable=d.get("answerable"), groups=tuple(d.get("groups") or ()),
                   gold_sources=tuple(d.get("gold_sources") or ()),
                   gold_chunk_ids=tuple(d.get("gold_chunk_ids") or ()),
                   reference_contexts=tuple(d.get("reference_contexts") or ()), topic=str(d.get("topic") or ""))


@dataclass(frozen=True, slots=True)
class Dataset:
    path: str
    sha256: str
    format: str  # the format(s) read, e.g. "qa" or "qa+questions"
    questions: tuple[Question, ...]
    problems: tuple[LineProblem, ...] = field(default=())

    @property
    def has_references(self) -> bool:
        return any(q.has_reference for q in self.questions)


def _topic(rec: QARecord) -> str:
    """The per-source breakdown label: the SQuAD article title, else the gold document's top folder."""
    if rec.format == "squad":
        return rec.title
    if rec.format == "ragas":
        return ""
    if rec.answerable is False:
        return "(unanswerable)"
    src = rec.source
    return src.split("/", 1)[0] if "/" in src else src


def question_of(rec: QARecord) -> Question:
    """A file's record as the harness asks it: no reference answers on an unanswerable question."""
    return Question(qid=rec.qid, text=rec.question, lang=rec.lang,
                    golds=rec.answers if rec.answerable is not False else (), answerable=rec.answerable,
                    groups=rec.groups, gold_sources=rec.sources, gold_chunk_ids=rec.chunk_ids,
                    reference_contexts=rec.contexts, topic=_topic(rec))


def load_dataset(path: Path | str, *, fmt: str = "auto") -> Dataset:
    """Every usable question of ``path``; bad lines are in ``Dataset.problems``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; allowed: {', '.join(FORMATS)}")
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"dataset file {p} does not exist: give a qa.jsonl, SQuAD/JSQuAD JSON, "
                           "ragas EvaluationDataset JSONL or CSV question file")
    read = read_qa_file(p, fmt=fmt)
    if not read.records:
        first = "; ".join(str(pr) for pr in read.problems[:3]) or "the file holds no question"
        raise DatasetError(f"{p}: no usable question ({len(read.problems)} bad lines; {first}). Each JSONL line "
                           'needs a JSON object with "question" (qa.jsonl / plain list) or "user_input" (ragas)')
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return Dataset(path=str(p), sha256=digest, format="+".join(read.formats),
                   questions=tuple(question_of(r) for r in read.records), problems=read.problems)
