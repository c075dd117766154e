"""Reading fine-tuning sources: gold QA files (ragqa's qa.jsonl or SQuAD / JSQuAD JSON) and the
Q&A page's feedback JSONL, into typed records. Bad input never stops a run: each problem is an
``Issue`` naming the file and line (or JSON path) and the reason, and that record is skipped.

SQuAD-format files are turned into one document per paragraph (``SquadCorpus``): the builder
writes them to disk and ingests them, so the real retriever can find oracle and distractor chunks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app.prompting import detect_question_lang

# Licences of known public QA sets, by a pattern of the file's path (the shared copies sit in
# squad/ and jsquad/ folders as dev-v1.1.json / valid-v1.3.json); anything else is the user's data.
KNOWN_LICENSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"jsquad", re.IGNORECASE), "CC-BY-SA-4.0 (JSQuAD, JGLUE)"),
    (re.compile(r"squad", re.IGNORECASE), "CC-BY-SA-4.0 (SQuAD v1.1)"),
)
OWN_DATA_LICENSE = "unspecified (your own data: record its licence in the data card)"
RATINGS_GOOD = ("good", "up", "thumbs_up", "1", "+1", "positive")
RATINGS_BAD = ("bad", "down", "thumbs_down", "0", "-1", "negative")


@dataclass(frozen=True, slots=True)
class Issue:
    """One skipped input record: ``where`` is ``file:line`` (or ``file:data[i].paragraphs[j]``)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class GoldQuestion:
    """A question with its gold answers and the document they are in.

    ``source``: the gold document's path as the index records it (``Chunk.source``); ``group``:
    the unit of the train/validation split (the article for SQuAD, the document otherwise), so
    questions about one text never land on both sides."""

    qid: str
    question: str
    answers: tuple[str, ...]
    source: str
    group: str
    lang: str  # the question's language ("en" | "ja"): the answer language
    origin: str  # the input file's name
    answerable: bool = True
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SquadCorpus:
    """Paragraph documents of a SQuAD-format file: ``docs`` maps a path relative to the set's folder
    (``<article index>-<title>/<paragraph index>.txt``, the layout benchmarks/common.py uses) to
    its text; the folder is ingested as its own root, so that path is the chunks' ``source``."""

    name: str
    docs: dict[str, str]


@dataclass(frozen=True, slots=True)
class Feedback:
    """One rated answer from the Q&A page. ``contexts``: the prompt's blocks in order, as
    ``Hit.to_dict`` dicts or bare chunk ids; ``corrected``: a better answer a user wrote."""

    question: str
    answer: str
    rating: str  # "good" | "bad"
    contexts: tuple[Any, ...]
    corrected: str = ""
    where: str = ""
    citations: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Read:
    """What a reader produced from one file: the records, the problems, and the file's licence."""

    path: Path
    kind: str  # "qa.jsonl" | "squad" | "feedback"
    questions: tuple[GoldQuestion, ...] = ()
    feedback: tuple[Feedback, ...] = ()
    corpus: SquadCorpus | None = None
    issues: tuple[Issue, ...] = ()
    license: str = OWN_DATA_LICENSE
    lines: int = 0  # records seen (lines, or SQuAD questions)


def license_of(path: Path) -> str:
    return next((lic for pat, lic in KNOWN_LICENSES if pat.search(str(path))), OWN_DATA_LICENSE)


def _jsonl(path: Path) -> Iterator[tuple[int, Any | None, str]]:
    """(line number, parsed object or None, error) for each non-blank line."""
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield no, json.loads(line), ""
        except json.JSONDecodeError as exc:
            yield no, None, f"malformed JSON ({exc.msg} at column {exc.colno})"


def _slug(text: str) -> str:
    return re.sub(r"[^\w-]+", "_", text).strip("_")[:60] or "untitled"


def read_gold(path: Path) -> Read:
    """A qa.jsonl file (one JSON object per line) or a SQuAD-format JSON file, by content."""
    path = Path(path)
    if not path.is_file():
        return Read(path, "qa.jsonl", issues=(Issue(str(path), "file does not exist"),))
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return Read(path, "qa.jsonl", issues=(Issue(str(path), "empty file"),), license=license_of(path))
    if text.lstrip().startswith("{") and '"data"' in text[:2000] and "\n{" not in text.strip()[:2000]:
        return _read_squad(path, text)
    return _read_qa_jsonl(path)


def _read_qa_jsonl(path: Path) -> Read:
    questions: list[GoldQuestion] = []
    issues: list[Issue] = []
    lines = 0
    for no, obj, err in _jsonl(path):
        lines += 1
        where = f"{path}:{no}"
        if err:
            issues.append(Issue(where, err))
            continue
        if not isinstance(obj, dict):
            issues.append(Issue(where, f"a qa.jsonl line must be a JSON object, not {type(obj).__name__}"))
            continue
        answerable = bool(obj.get("answerable", True))
        missing = [k for k in ("question", "source") if not obj.get(k) and (k == "question" or answerable)]
        if missing:
            issues.append(Issue(where, f"missing {', '.join(missing)} (a qa.jsonl line needs id, question, "
                                       "answerable, and answer + source when answerable)"))
            continue
        answer = str(obj.get("answer") or "").strip()
        if answerable and not answer:
            issues.append(Issue(where, "answerable question without an answer"))
            continue
        q = str(obj["question"]).strip()
        questions.append(GoldQuestion(
            qid=str(obj.get("id") or f"{path.stem}-{no}"), question=q, answers=(answer,) if answer else (),
            source=str(obj.get("source") or ""), group=str(obj.get("source") or f"unanswerable:{no}"),
            lang=detect_question_lang(q),
            origin=path.name, answerable=answerable, groups=tuple(obj.get("groups") or ())))
    return Read(path, "qa.jsonl", questions=tuple(questions), issues=tuple(issues), license=license_of(path),
                lines=lines)


def _read_squad(path: Path, text: str) -> Read:
    try:
        data = json.loads(text)["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return Read(path, "squad", issues=(Issue(str(path), f"not a SQuAD-format file: {exc}"),),
                    license=license_of(path))
    name = _slug(path.stem)
    docs: dict[str, str] = {}
    questions: list[GoldQuestion] = []
    issues: list[Issue] = []
    seen = 0
    for ai, art in enumerate(data):
        title = str(art.get("title", f"article-{ai}"))
        folder = f"{ai:03d}-{_slug(title)}"
        for pi, para in enumerate(art.get("paragraphs", [])):
            where = f"{path}:data[{ai}].paragraphs[{pi}]"
            context = str(para.get("context", ""))
            head, sep, body = context.partition(" [SEP] ")  # JSQuAD: "<title> [SEP] <text>"
            doc_text = f"{head}\n{body}" if sep else context
            src = f"{folder}/{pi:03d}.txt"
            docs[src] = doc_text
            for qa in para.get("qas", []):
                seen += 1
                answers = tuple(dict.fromkeys(str(a.get("text", "")).strip() for a in qa.get("answers", [])
                                              if str(a.get("text", "")).strip()))
                if not answers:
                    issues.append(Issue(f"{where}.qas[{qa.get('id')}]", "question without an answer"))
                    continue
                if not any(a in doc_text for a in answers):
                    issues.append(Issue(f"{where}.qas[{qa.get('id')}]", "answer not in its passage"))
                    continue
                q = str(qa.get("question", "")).strip()
                questions.append(GoldQuestion(
                    qid=str(qa.get("id")), question=q, answers=answers, source=src, group=folder,
                    lang=detect_question_lang(q), origin=path.name))
    return Read(path, "squad", questions=tuple(questions), corpus=SquadCorpus(name, docs), issues=tuple(issues),
                license=license_of(path), lines=seen)


def _rating(raw: Any) -> str | None:
    value = str(raw).strip().lower()
    return "good" if value in RATINGS_GOOD else "bad" if value in RATINGS_BAD else None


def _newest_revisions(rows: Sequence[tuple[int, Any, str]]) -> dict[Any, int]:
    """{feedback_id: line number of its highest ``revision``} over the page's records
    (``rag_app.ui.feedback``: one line per revision of one answer's feedback)."""
    best: dict[Any, tuple[int, int]] = {}
    for no, obj, _ in rows:
        if isinstance(obj, dict) and "feedback_id" in obj:
            rev = int(obj.get("revision") or 0)
            if obj["feedback_id"] not in best or rev >= best[obj["feedback_id"]][0]:
                best[obj["feedback_id"]] = (rev, no)
    return {fid: no for fid, (_, no) in best.items()}


def read_feedback(path: Path) -> Read:
    """The Q&A page's feedback JSONL: ``question``, ``answer`` (text or an ``Answer.to_dict``),
    ``rating`` (good/bad, up/down), ``contexts`` (hit dicts or chunk ids; ``context_ids`` and the
    page's ``context_chunk_ids`` also read), ``citations`` (or the answer's own),
    ``corrected_answer`` (optional). Of a ``feedback_id``'s revisions only the newest is read."""
    path = Path(path)
    if not path.is_file():
        return Read(path, "feedback", issues=(Issue(str(path), "file does not exist"),))
    items: list[Feedback] = []
    issues: list[Issue] = []
    rows = list(_jsonl(path))
    newest = _newest_revisions(rows)
    for no, obj, err in rows:
        where = f"{path}:{no}"
        if err or not isinstance(obj, dict):
            issues.append(Issue(where, err or "not a JSON object"))
            continue
        if "feedback_id" in obj and newest.get(obj["feedback_id"]) != no:
            continue  # the page appends a revision (comment, correction) as a new line: the last one counts
        answer = obj.get("answer")
        answer_text = str(answer.get("text", "")) if isinstance(answer, dict) else str(answer or "")
        contexts = obj.get("contexts") or obj.get("context_ids") or obj.get("context_chunk_ids") or (
            answer.get("contexts") if isinstance(answer, dict) else None) or []
        citations = obj.get("citations") or (answer.get("citations") if isinstance(answer, dict) else None) or ()
        rating = _rating(obj.get("rating"))
        problems = [m for m, bad in (("question", not str(obj.get("question") or "").strip()),
                                     ("answer", not answer_text.strip()),
                                     ("contexts", not contexts)) if bad]
        if rating is None:
            problems.append(f"rating {obj.get('rating')!r} (allowed: good, bad)")
        if problems:
            issues.append(Issue(where, "missing or bad " + ", ".join(problems)))
            continue
        items.append(Feedback(
            question=str(obj["question"]).strip(), answer=answer_text.strip(), rating=rating or "",
            contexts=tuple(contexts), corrected=str(obj.get("corrected_answer") or obj.get("correction") or "").strip(),
            where=where, citations=tuple(citations)))
    lines = len(rows)
    if not lines:
        issues.append(Issue(str(path), "empty file"))
    return Read(path, "feedback", feedback=tuple(items), issues=tuple(issues), lines=lines)


@dataclass(frozen=True, slots=True)
class Sources:
    """Everything read, in input order."""

    reads: tuple[Read, ...] = field(default_factory=tuple)

    @property
    def questions(self) -> list[GoldQuestion]:
        return [q for r in self.reads for q in r.questions]

    @property
    def issues(self) -> list[Issue]:
        return [i for r in self.reads for i in r.issues]


def read_sources(qa_files: Sequence[Path], feedback_files: Sequence[Path]) -> Sources:
    return Sources(tuple([read_gold(p) for p in qa_files] + [read_feedback(p) for p in feedback_files]))
