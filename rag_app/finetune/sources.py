"""Reading fine-tuning sources: gold QA files (ragqa's qa.jsonl or SQuAD / JSQuAD JSON, read by
``rag_app.qa_file``) and the Q&A page's feedback JSONL, into typed records. Bad input never stops
a run: each problem is an ``Issue`` (``rag_app.qa_file.LineProblem``) naming the file and line (or
JSON path) and the reason, and that record is skipped.

SQuAD-format files are turned into one document per paragraph (``SquadCorpus``): the builder
writes them to disk and ingests them, so the real retriever can find oracle and distractor chunks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app.qa_file import LineProblem, QARecord, jsonl_objects, read_qa_file, slug

# Licences of known public QA sets, by a pattern of the file's path (the shared copies sit in
# squad/ and jsquad/ folders as dev-v1.1.json / valid-v1.3.json); anything else is the user's data.
KNOWN_LICENSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"jsquad", re.IGNORECASE), "CC-BY-SA-4.0 (JSQuAD, JGLUE)"),
    (re.compile(r"squad", re.IGNORECASE), "CC-BY-SA-4.0 (SQuAD v1.1)"),
)
OWN_DATA_LICENSE = "unspecified (your own data: record its licence in the data card)"
RATINGS_GOOD = ("good", "up", "thumbs_up", "1", "+1", "positive")
RATINGS_BAD = ("bad", "down", "thumbs_down", "0", "-1", "negative")


Issue = LineProblem  # one skipped input record (the name the fine-tuning modules use)


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


# what a fine-tuning record needs of a gold line: an answer, in the document that holds it
GOLD_REQUIRES = ("source", "answer", "answer_in_passage")


def _gold_question(rec: QARecord, origin: str) -> GoldQuestion:
    # the split unit: the SQuAD article, else the gold document (an unanswerable line is its own)
    group = rec.article or rec.source or f"unanswerable:{rec.line}"
    return GoldQuestion(qid=rec.qid, question=rec.question, answers=rec.answers, source=rec.source, group=group,
                        lang=rec.lang, origin=origin, answerable=rec.answerable is not False, groups=rec.groups)


def read_gold(path: Path) -> Read:
    """A qa.jsonl file (one JSON object per line) or a SQuAD-format JSON file, by content."""
    path = Path(path)
    got = read_qa_file(path, require=GOLD_REQUIRES)
    corpus = SquadCorpus(slug(path.stem), dict(got.passages)) if got.passages else None
    return Read(path, "squad" if got.container == "squad" else "qa.jsonl",
                questions=tuple(_gold_question(r, path.name) for r in got.records), corpus=corpus,
                issues=got.problems, license=license_of(path), lines=got.seen)


def _rating(raw: Any) -> str | None:
    value = str(raw).strip().lower()
    return "good" if value in RATINGS_GOOD else "bad" if value in RATINGS_BAD else None


def _newest_revisions(rows: Sequence[tuple[int, dict[str, Any] | Issue]]) -> dict[Any, int]:
    """{feedback_id: line number of its highest ``revision``} over the page's records
    (``rag_app.ui.feedback``: one line per revision of one answer's feedback)."""
    best: dict[Any, tuple[int, int]] = {}
    for no, obj in rows:
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
    rows = list(jsonl_objects(path))
    newest = _newest_revisions(rows)
    for no, obj in rows:
        where = f"{path}:{no}"
        if isinstance(obj, Issue):
            issues.append(obj)
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
