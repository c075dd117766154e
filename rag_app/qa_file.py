"""One reader of gold question files, for every user of them (calibration, fine-tuning data,
the evaluation harness, the benchmarks): typed records in, every bad line reported and skipped, never fatal.

Formats (``fmt="auto"`` picks the container by extension and content, then per JSONL line by its
keys):

- ``qa``: ragqa's ``qa.jsonl`` (``docs_corpus/qa.jsonl``): ``id``, ``question``, ``answer`` (or
  ``answers``: a list), ``answerable``, ``lang``, ``source`` (or ``sources``: the gold document,
  relative to the corpus root), ``groups`` (the asker's groups), optional ``chunk_ids``;
- ``squad``: SQuAD v1.1 / v2 / JSQuAD JSON (``{"data": [{"title", "paragraphs": [{"context",
  "qas"}]}]}``). Each paragraph is a document ``<article index:03d>-<title slug>/<paragraph
  index:03d>.txt`` (the layout ``benchmarks/common.load_qa_set`` writes); its text is the context,
  JSQuAD's ``"<title> [SEP] <text>"`` read as ``"<title>\\n<text>"``;
- ``ragas``: a ragas ``EvaluationDataset`` JSONL (``user_input``, ``reference``,
  ``reference_contexts``, ``reference_context_ids``; ``response`` is ignored);
- ``questions``: plain CSV (a ``question`` column; ``id``, ``lang``, ``groups``, ``answer``
  optional) or JSONL with only ``question``: no references.

Problems, each a ``LineProblem`` (``file:line`` or ``file:data[i].paragraphs[j].qas[k]``, and the
reason with its fix): a missing, empty or undecodable file, a malformed JSON line, a line that is
not an object, a missing or mistyped field, a language other than ja/en, a duplicate id, and an
answer that is not in its passage. What a caller needs beyond a question is its ``require``:
``answerable`` (the line says whether it can be answered); ``answer`` and ``source`` (of every
question not marked unanswerable); ``answer_in_passage`` (an answer of a SQuAD question is in its
paragraph; line formats carry no passage, so it holds there).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app.prompting import detect_question_lang

FORMATS = ("auto", "qa", "squad", "ragas", "questions")
REQUIRABLE = ("answerable", "answer", "source", "answer_in_passage")
LANGS = ("ja", "en")
_SLUG_RE = re.compile(r"[^\w-]+", re.UNICODE)
_SEP = " [SEP] "  # JSQuAD contexts: "<title> [SEP] <text>"


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A skipped input record: ``where`` is ``file:line`` (or a JSON path for SQuAD files, or the
    file alone when the whole file is unusable); ``reason`` says what is wrong and the fix."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class QARecord:
    """One question of a gold QA file, as the file states it.

    ``answerable``: None when the file neither gives an answer nor marks the question
    unanswerable (a plain question list). ``answers`` are kept as given even on an unanswerable
    line; what a user scores against is its own choice."""

    qid: str  # the file's id, else "q-" + a hash of the question (stable when lines move)
    question: str
    lang: str  # "ja" | "en": the line's own, else detected from the question
    format: str  # "qa" | "squad" | "ragas" | "questions"
    where: str  # file:line, or the SQuAD JSON path
    line: int = 0  # 1-based line of a JSONL/CSV file; 0 in a SQuAD file
    answers: tuple[str, ...] = ()
    answerable: bool | None = None
    sources: tuple[str, ...] = ()  # gold documents, relative to the corpus root
    groups: tuple[str, ...] = ()  # the asker's groups
    chunk_ids: tuple[str, ...] = ()  # gold chunks, where known
    contexts: tuple[str, ...] = ()  # ragas reference_contexts
    title: str = ""  # SQuAD: the article's title
    article: str = ""  # SQuAD: the article's folder, "<index:03d>-<title slug>"
    raw_question: str = ""  # the question as the file writes it, when that is not ``question`` (whitespace)

    @property
    def source(self) -> str:
        """The first gold document, "" when none is named."""
        return self.sources[0] if self.sources else ""

    @property
    def verbatim_question(self) -> str:
        """The question exactly as the file writes it, surrounding whitespace included (SQuAD has
        trailing spaces): what a benchmark asks, so its cached query vectors and stored answers,
        keyed on the text, stay valid."""
        return self.raw_question or self.question


@dataclass(frozen=True, slots=True)
class QAFile:
    """What ``read_qa_file`` made of one file: its usable records and its problems, in file order.

    ``passages``: SQuAD paragraph documents, source path -> text (every paragraph, also those
    whose questions were all skipped); empty for line formats. ``articles``: SQuAD article titles
    in file order (also those without questions), so ``articles[i]`` is the title of the folder
    ``f"{i:03d}-{slug(title)}"``; empty for line formats. ``seen``: records met (non-blank
    lines, CSV rows, SQuAD questions), usable or not."""

    path: Path
    container: str  # "jsonl" | "csv" | "squad"
    records: tuple[QARecord, ...] = ()
    problems: tuple[LineProblem, ...] = ()
    passages: dict[str, str] = field(default_factory=dict)
    seen: int = 0
    articles: tuple[str, ...] = ()

    @property
    def formats(self) -> tuple[str, ...]:
        """The formats of the usable records, sorted: ``("qa",)``, ``("qa", "questions")``..."""
        return tuple(sorted({r.format for r in self.records}))


class _Bad(Exception):
    """A line that cannot become a record; the message is the reason."""


def slug(text: str) -> str:
    """A file-name-safe form of an article title or file stem ("untitled" when nothing is left)."""
    return _SLUG_RE.sub("_", text).strip("_")[:60] or "untitled"


def squad_passage(context: str) -> str:
    """A SQuAD paragraph's document text; JSQuAD's "<title> [SEP] <text>" becomes "<title>\\n<text>",
    so the title stays a first line and the artificial marker never reaches an index."""
    head, sep, body = context.partition(_SEP)
    return f"{head}\n{body}" if sep else context


# -- field readers --------------------------------------------------------------------------------
def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f'"{key}" must be a non-empty string, got {value!r}')
    return value.strip()


def _raw(row: Mapping[str, Any], key: str, text: str) -> str:
    """``row[key]`` when stripping changed it (``QARecord.raw_question``), else ""."""
    value = row[key]
    return value if value != text else ""


def _strings(row: Mapping[str, Any], *keys: str) -> tuple[str, ...]:
    """A list of strings (or one string; ``groups`` / ``chunk_ids`` cells split on commas, as CSV
    gives them) under the first key present."""
    for key in keys:
        value = row.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            if key in ("groups", "chunk_ids"):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return (value.strip(),)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (str(value),)
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return tuple(str(v).strip() for v in value if str(v).strip())
        raise _Bad(f'"{key}" must be a string or a list of strings, got {value!r}')
    return ()


def _lang(row: Mapping[str, Any], text: str) -> str:
    value = row.get("lang")
    if value in (None, ""):
        return detect_question_lang(text)
    if value not in LANGS:
        raise _Bad(f"lang {value!r} is not supported; allowed: {', '.join(LANGS)} (or leave it out to detect it)")
    return str(value)


def _answerable(row: Mapping[str, Any], answers: tuple[str, ...]) -> bool | None:
    value = row.get("answerable")
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    if value is None or value == "":
        return True if answers else None
    if not isinstance(value, bool):
        raise _Bad(f'"answerable" must be true or false, got {value!r}')
    return value


def _qid(row: Mapping[str, Any], text: str) -> str:
    for key in ("id", "qid", "question_id"):
        if row.get(key) not in (None, ""):
            return str(row[key])
    return "q-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _check_required(rec: QARecord, require: Collection[str], passages: Mapping[str, str]) -> None:
    """Raise ``_Bad`` for the first thing ``require`` asks for that ``rec`` lacks."""
    squad = rec.format == "squad"
    if "answerable" in require and rec.answerable is None:
        raise _Bad('missing "answerable": say true or false')
    if rec.answerable is False:
        return
    if "source" in require and not rec.sources:
        raise _Bad('answerable question without a "source": name the document that holds its answer '
                   '(or mark it "answerable": false)')
    if "answer" in require and not rec.answers:
        raise _Bad('answerable question without an answer: give its "answers" (or mark it "is_impossible": true)'
                   if squad else
                   'answerable question without an answer: give its "answer" (or mark it "answerable": false)')
    passage = passages.get(rec.source) if squad else None
    if "answer_in_passage" in require and passage is not None and rec.answers \
            and not any(a in passage for a in rec.answers):
        raise _Bad("answer not in its passage")


# -- row mappers ----------------------------------------------------------------------------------
def _row_format(row: Mapping[str, Any], fmt: str) -> str:
    if fmt in ("qa", "ragas", "questions"):
        return fmt
    if "user_input" in row:
        return "ragas"
    return "qa" if any(k in row for k in ("answer", "answers", "answerable")) else "questions"


def _line_record(row: Mapping[str, Any], kind: str, where: str, line: int) -> QARecord:
    if kind == "ragas":
        text = _text(row, "user_input")
        answers = _strings(row, "reference")
        return QARecord(qid=_qid(row, text), question=text, lang=_lang(row, text), format=kind, where=where,
                        line=line, answers=answers, answerable=True if answers else None,
                        groups=_strings(row, "groups"), chunk_ids=_strings(row, "reference_context_ids"),
                        contexts=_strings(row, "reference_contexts"), raw_question=_raw(row, "user_input", text))
    text = _text(row, "question")
    answers = _strings(row, "answers", "answer")
    return QARecord(qid=_qid(row, text), question=text, lang=_lang(row, text), format=kind, where=where, line=line,
                    answers=answers, answerable=_answerable(row, answers), sources=_strings(row, "sources", "source"),
                    groups=_strings(row, "groups"), chunk_ids=_strings(row, "chunk_ids"),
                    raw_question=_raw(row, "question", text))


# -- containers -----------------------------------------------------------------------------------
def jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any] | LineProblem]]:
    """(line number, object or the line's problem) for each non-blank line of a JSONL file; a file
    that is not UTF-8 text is one problem at line 0."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        yield 0, _not_utf8(path, e)
        return
    yield from _jsonl_rows(path, text)


def _not_utf8(path: Path, e: UnicodeDecodeError) -> LineProblem:
    return LineProblem(str(path), f"not UTF-8 text ({e.reason} at byte {e.start}): save it as UTF-8")


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any] | LineProblem]]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield n, LineProblem(where, f"not valid JSON ({e.msg} at column {e.colno}): fix or delete the line")
            continue
        if not isinstance(row, dict):
            yield n, LineProblem(where, f"expected a JSON object, got {type(row).__name__}")
            continue
        yield n, row


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any] | LineProblem]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "question" not in reader.fieldnames:
        yield 0, LineProblem(str(path), f"a CSV question file needs a header row with a 'question' column "
                                        f"(found {reader.fieldnames}); optional columns: id, lang, groups, answer")
        return
    for row in reader:
        yield reader.line_num, {k: v for k, v in row.items() if k is not None}


def _line_records(path: Path, fmt: str, rows: Iterator[tuple[int, dict[str, Any] | LineProblem]],
                  out: list[QARecord | LineProblem]) -> int:
    seen = 0
    for n, row in rows:
        if isinstance(row, LineProblem):
            seen += 1 if n else 0  # line 0: the whole file
            out.append(row)
            continue
        seen += 1
        where = f"{path}:{n}"
        try:
            out.append(_line_record(row, _row_format(row, fmt), where, n))
        except _Bad as e:
            out.append(LineProblem(where, str(e)))
    return seen


def _squad_records(path: Path, text: str, out: list[QARecord | LineProblem], passages: dict[str, str],
                   articles: list[str]) -> int:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        out.append(LineProblem(str(path), f"not a SQuAD-format JSON file ({e.msg} at line {e.lineno}): fix it, "
                                          "or give a qa.jsonl file a .jsonl name"))
        return 0
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        out.append(LineProblem(str(path), 'not a SQuAD-format file: expected a JSON object with a "data" list '
                                          "of articles"))
        return 0
    seen = 0
    for ai, art in enumerate(data["data"]):
        art = art if isinstance(art, dict) else {}
        title = str(art.get("title") or "")
        articles.append(title)
        folder = f"{ai:03d}-{slug(title)}"
        for pi, para in enumerate(art.get("paragraphs") or []):
            para = para if isinstance(para, dict) else {}
            src = f"{folder}/{pi:03d}.txt"
            passage = squad_passage(str(para.get("context") or ""))
            passages[src] = passage
            for qi, qa in enumerate(para.get("qas") or []):
                seen += 1
                where = f"{path}:data[{ai}].paragraphs[{pi}].qas[{qi}]"
                qa = qa if isinstance(qa, dict) else {}
                q = qa.get("question")
                if not isinstance(q, str) or not q.strip():
                    out.append(LineProblem(where, f'"question" must be a non-empty string, got {q!r}'))
                    continue
                answers = tuple(dict.fromkeys(t for a in qa.get("answers") or []
                                              if isinstance(a, dict) and (t := str(a.get("text") or "").strip())))
                answerable = False if qa.get("is_impossible") else (True if answers else None)
                out.append(QARecord(qid=str(qa.get("id", f"{ai}-{pi}-{qi}")), question=q.strip(),
                                    lang=detect_question_lang(q), format="squad", where=where, answers=answers,
                                    answerable=answerable, sources=(src,), title=title, article=folder,
                                    raw_question=_raw(qa, "question", q.strip())))
    return seen


def _looks_like_squad(text: str) -> bool:
    """One JSON object with a "data" key, not one object per line."""
    head = text.strip()[:2000]
    return head.startswith("{") and '"data"' in head and "\n{" not in head


def read_qa_file(path: Path | str, *, fmt: str = "auto", require: Collection[str] = ()) -> QAFile:
    """Every usable question of ``path``; bad lines are ``QAFile.problems``, never an exception.

    ``require``: fields of ``REQUIRABLE`` a line must give to be usable (see the module doc)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown QA file format {fmt!r}; allowed: {', '.join(FORMATS)}")
    unknown = sorted(set(require) - set(REQUIRABLE))
    if unknown:
        raise ValueError(f"cannot require {', '.join(map(repr, unknown))}; allowed: {', '.join(REQUIRABLE)}")
    p = Path(path)
    container = "csv" if p.suffix == ".csv" and fmt != "squad" else "jsonl"
    if not p.is_file():
        return QAFile(p, container, problems=(LineProblem(str(p), "file does not exist"),))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        return QAFile(p, container, problems=(_not_utf8(p, e),))
    if not text.strip():
        return QAFile(p, container, problems=(LineProblem(str(p), "empty file"),))
    if fmt == "squad" or (fmt == "auto" and container == "jsonl" and (p.suffix == ".json" or _looks_like_squad(text))):
        container = "squad"
    out: list[QARecord | LineProblem] = []
    passages: dict[str, str] = {}
    articles: list[str] = []
    if container == "squad":
        seen = _squad_records(p, text, out, passages, articles)
    else:
        seen = _line_records(p, fmt, _csv_rows(p, text) if container == "csv" else _jsonl_rows(p, text), out)
    records: list[QARecord] = []
    problems: list[LineProblem] = []
    ids: set[str] = set()
    for item in out:
        if isinstance(item, LineProblem):
            problems.append(item)
            continue
        try:
            _check_required(item, require, passages)
        except _Bad as e:
            problems.append(LineProblem(item.where, str(e)))
            continue
        if item.qid in ids:
            problems.append(LineProblem(f"{p}:{item.qid}", f"duplicate id {item.qid!r}: only its first question is kept"))
            continue
        ids.add(item.qid)
        records.append(item)
    return QAFile(p, container, records=tuple(records), problems=tuple(problems), passages=passages, seen=seen,
                  articles=tuple(articles))

