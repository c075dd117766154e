"""One typed loader for every question file the harness reads.

Formats (``fmt="auto"`` picks by extension, then per JSONL line by its keys):

- ``qa``: ragqa's ``qa.jsonl`` (``docs_corpus/qa.jsonl``): ``id``, ``question``, ``answer`` (or
  ``answers``: a list), ``answerable``, ``lang``, ``source`` (the gold document, relative to the
  corpus root), ``groups`` (the asker's groups), optional ``chunk_ids`` (gold chunks);
- ``squad``: SQuAD v1.1 / v2 / JSQuAD JSON (``{"data": [{"title", "paragraphs": [{"qas"}]}]}``);
  the gold document of a question is ``<article index:03d>-<title slug>/<paragraph index:03d>.txt``,
  the layout ``benchmarks/common.load_qa_set`` writes when it turns paragraphs into files;
- ``ragas``: a ragas ``EvaluationDataset`` JSONL (``user_input``, ``reference``,
  ``reference_contexts``, ``reference_context_ids``); its ``response`` is ignored (systems answer);
- ``questions``: plain CSV (a ``question`` column; ``id``, ``lang``, ``groups``, ``answer`` optional)
  or JSONL with only ``question``: no references, so the report is a batch answer report.

A bad line is reported as ``file:line: reason`` and skipped; a file with no usable question is a
``DatasetError`` naming the first problems and the fix.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("auto", "qa", "squad", "ragas", "questions")
LANGS = ("ja", "en")
_SLUG_RE = re.compile(r"[^\w-]+", re.UNICODE)


class DatasetError(ValueError):
    """A question file that cannot be used at all (missing, empty, every line bad)."""


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A skipped line: ``where`` is ``file:line`` (or a JSON path for SQuAD files)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


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


class _Bad(Exception):
    """A line that cannot become a question; the message is the reason."""


# -- field readers --------------------------------------------------------------------------------
def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f'"{key}" must be a non-empty string, got {value!r}')
    return value.strip()


def _strings(row: Mapping[str, Any], *keys: str) -> tuple[str, ...]:
    """A list of strings (or one string; CSV cells split on commas) under the first key present."""
    for key in keys:
        value = row.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip()) if key in ("groups", "chunk_ids") \
                else (value.strip(),)
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return tuple(str(v) for v in value if str(v).strip())
        raise _Bad(f'"{key}" must be a string or a list of strings, got {value!r}')
    return ()


def _lang(row: Mapping[str, Any], text: str) -> str:
    from rag_app.prompting import detect_question_lang

    value = row.get("lang")
    if value in (None, ""):
        return detect_question_lang(text)
    if value not in LANGS:
        raise _Bad(f"lang {value!r} is not supported; allowed: {', '.join(LANGS)} (or leave it out to detect it)")
    return str(value)


def _answerable(row: Mapping[str, Any], golds: tuple[str, ...]) -> bool | None:
    value = row.get("answerable")
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    if value is None or value == "":
        return True if golds else None
    if not isinstance(value, bool):
        raise _Bad(f'"answerable" must be true or false, got {value!r}')
    return value


def _qid(row: Mapping[str, Any], text: str) -> str:
    for key in ("id", "qid", "question_id"):
        if row.get(key) not in (None, ""):
            return str(row[key])
    return "q-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]  # stable when lines move


def _topic(sources: Sequence[str]) -> str:
    return sources[0].split("/", 1)[0] if sources and "/" in sources[0] else (sources[0] if sources else "")


# -- row mappers ----------------------------------------------------------------------------------
def question_from_qa_row(row: Mapping[str, Any]) -> Question:
    """A ``qa.jsonl`` / plain-question row (``question`` key) as a Question."""
    text = _text(row, "question")
    golds = _strings(row, "answers", "answer")
    answerable = _answerable(row, golds)
    sources = _strings(row, "sources", "source")
    return Question(qid=_qid(row, text), text=text, lang=_lang(row, text), golds=golds if answerable else (),
                    answerable=answerable, groups=_strings(row, "groups"), gold_sources=sources,
                    gold_chunk_ids=_strings(row, "chunk_ids"),
                    topic=_topic(sources) if answerable is not False else "(unanswerable)")


def question_from_ragas_row(row: Mapping[str, Any]) -> Question:
    """A ragas ``EvaluationDataset`` row (``user_input`` key) as a Question."""
    text = _text(row, "user_input")
    golds = _strings(row, "reference")
    return Question(qid=_qid(row, text), text=text, lang=_lang(row, text), golds=golds,
                    answerable=True if golds else None, groups=_strings(row, "groups"),
                    gold_chunk_ids=_strings(row, "reference_context_ids"),
                    reference_contexts=_strings(row, "reference_contexts"))


def _row_format(row: Mapping[str, Any], fmt: str) -> str:
    if fmt in ("qa", "ragas", "questions"):
        return fmt
    if "user_input" in row:
        return "ragas"
    return "qa" if any(k in row for k in ("answer", "answers", "answerable")) else "questions"


# -- files ----------------------------------------------------------------------------------------
def _jsonl_rows(path: Path, problems: list[LineProblem]) -> Iterator[tuple[str, dict[str, Any]]]:
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(LineProblem(where, f"not valid JSON ({e.msg} at column {e.colno}): fix or delete the line"))
            continue
        if not isinstance(row, dict):
            problems.append(LineProblem(where, f"expected a JSON object, got {type(row).__name__}"))
            continue
        yield where, row


def _csv_rows(path: Path, problems: list[LineProblem]) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "question" not in reader.fieldnames:
            raise DatasetError(f"{path}: a CSV question file needs a header row with a 'question' column "
                               f"(found {reader.fieldnames}); optional columns: id, lang, groups, answer")
        for row in reader:
            yield f"{path}:{reader.line_num}", {k: v for k, v in row.items() if k is not None}


def _squad_questions(path: Path, problems: list[LineProblem]) -> Iterator[Question]:
    from rag_app.prompting import detect_question_lang

    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DatasetError(f'{path}: a SQuAD file is a JSON object with a "data" list of articles')
    for ai, art in enumerate(data["data"]):
        title = str(art.get("title", ""))
        folder = f"{ai:03d}-{_SLUG_RE.sub('_', title).strip('_')[:60] or 'untitled'}"
        for pi, para in enumerate(art.get("paragraphs", [])):
            for qi, qa in enumerate(para.get("qas", [])):
                text = qa.get("question")
                if not isinstance(text, str) or not text.strip():
                    problems.append(LineProblem(f"{path}:data[{ai}].paragraphs[{pi}].qas[{qi}]",
                                                '"question" must be a non-empty string'))
                    continue
                golds = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", []) if a.get("text")))
                answerable = bool(golds) and not qa.get("is_impossible", False)
                yield Question(qid=str(qa.get("id", f"{ai}-{pi}-{qi}")), text=text.strip(),
                               lang=detect_question_lang(text), golds=golds if answerable else (),
                               answerable=answerable, gold_sources=(f"{folder}/{pi:03d}.txt",), topic=title)


def _file_questions(path: Path, fmt: str, problems: list[LineProblem], seen_formats: set[str]) -> Iterator[Question]:
    if fmt == "squad" or (fmt == "auto" and path.suffix == ".json"):
        seen_formats.add("squad")
        yield from _squad_questions(path, problems)
        return
    rows = _csv_rows(path, problems) if path.suffix == ".csv" else _jsonl_rows(path, problems)
    for where, row in rows:
        kind = _row_format(row, fmt)
        try:
            q = question_from_ragas_row(row) if kind == "ragas" else question_from_qa_row(row)
        except _Bad as e:
            problems.append(LineProblem(where, str(e)))
            continue
        seen_formats.add(kind)
        yield q


def load_dataset(path: Path | str, *, fmt: str = "auto") -> Dataset:
    """Every usable question of ``path``; bad lines are in ``Dataset.problems``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; allowed: {', '.join(FORMATS)}")
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"dataset file {p} does not exist: give a qa.jsonl, SQuAD/JSQuAD JSON, "
                           "ragas EvaluationDataset JSONL or CSV question file")
    problems: list[LineProblem] = []
    formats: set[str] = set()
    questions: list[Question] = []
    ids: set[str] = set()
    try:
        for q in _file_questions(p, fmt, problems, formats):
            if q.qid in ids:
                problems.append(LineProblem(f"{p}:{q.qid}", f"duplicate id {q.qid!r}: only its first question is kept"))
                continue
            ids.add(q.qid)
            questions.append(q)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{p}: cannot read it as {fmt} questions ({e}); save it as UTF-8 JSONL, JSON or CSV") from None
    if not questions:
        first = "; ".join(str(pr) for pr in problems[:3]) or "the file holds no question"
        raise DatasetError(f"{p}: no usable question ({len(problems)} bad lines; {first}). Each JSONL line "
                           'needs a JSON object with "question" (qa.jsonl / plain list) or "user_input" (ragas)')
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return Dataset(path=str(p), sha256=digest, format="+".join(sorted(formats)), questions=tuple(questions),
                   problems=tuple(problems))
