"""Suggested questions on the Ask page: sample questions about the documents the asker may see.

They come from a ``qa.jsonl`` at the top of an ingested folder, in the format of
``docs_corpus/qa.jsonl``, read by the one gold-question reader (``rag_app.qa_file``, what
``ragqa eval`` and ``ragqa calibrate`` read): ``question`` and ``source`` (or ``sources``: the
documents' paths below that folder), optionally ``answerable`` and ``lang``. A question is
offered only when

- every document it was written about is in the index and the asker may see it (the caller
  hands in the documents already filtered by the asker's groups: ``DocumentLibrary.visible``);
- it is not marked unanswerable (those lines test refusals; a suggestion should answer);
- it names its sources: a line without one is never offered, since nothing says whom it may be
  shown to (fail closed);
- its documents match the page's filters, so a click never asks outside them.

The pick is deterministic and spread: the first question of the first document of every folder,
then the first question of each folder's second document, and so on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rag_app.qa_file import QARecord, read_qa_file
from rag_app.types import DocumentInfo
from retrieval.types import Filters

QUESTIONS_FILE = "qa.jsonl"  # at the top of an ingested folder
MAX_SUGGESTIONS = 4
MAX_SUGGESTION_CHARS = 200  # a longer sample question is not offered as a button


@dataclass(frozen=True, slots=True)
class SampleQuestion:
    question: str
    root: str  # the ingested folder that holds the questions file (DocumentInfo.root)
    sources: tuple[str, ...]  # the documents it is about, relative to ``root`` (DocumentInfo.source)
    lang: str | None = None


def sample_questions(records: Sequence[QARecord], root: str) -> list[SampleQuestion]:
    """The offerable questions of a questions file's records, in file order: not marked
    unanswerable, naming their sources, short enough for a button."""
    return [SampleQuestion(question=r.question.strip(), root=root,
                           sources=tuple(PurePosixPath(s).as_posix() for s in r.sources), lang=r.lang or None)
            for r in records
            if r.answerable is not False and r.sources and r.question.strip()
            and len(r.question) <= MAX_SUGGESTION_CHARS]


def matches_filters(doc: DocumentInfo, lang: str | None, filters: Filters | None) -> bool:
    """Whether a question about ``doc`` (in ``lang``) lies inside the page's filters."""
    if filters is None:
        return True
    if filters.source_prefix and not doc.source.startswith(filters.source_prefix):
        return False
    if filters.file_types and doc.file_type not in filters.file_types:
        return False
    if filters.langs and lang is not None and lang not in filters.langs:
        return False
    if (filters.date_from or filters.date_to) and doc.date is None:
        return False
    if filters.date_from and doc.date is not None and doc.date < filters.date_from:
        return False
    return not (filters.date_to and doc.date is not None and doc.date > filters.date_to)


def pick_suggestions(questions: Sequence[SampleQuestion], visible: Sequence[DocumentInfo],
                     filters: Filters | None = None, n: int = MAX_SUGGESTIONS) -> list[SampleQuestion]:
    """Up to ``n`` questions about documents in ``visible`` (and inside ``filters``), spread over
    folders and documents; deterministic for the same inputs."""
    docs = {(d.root, d.source): d for d in visible}
    per_doc: dict[tuple[str, str], list[SampleQuestion]] = {}  # keyed by the question's first source
    seen: set[str] = set()
    for q in questions:
        keys = [(q.root, s) for s in q.sources]
        if q.question in seen or not all(k in docs and matches_filters(docs[k], q.lang, filters) for k in keys):
            continue
        seen.add(q.question)
        per_doc.setdefault(keys[0], []).append(q)
    # (question's place in its document, document's place in its folder, folder, document) per question
    place: dict[tuple[str, str], tuple[int, tuple[str, str]]] = {}
    in_folder: dict[tuple[str, str], int] = {}
    for key in sorted(per_doc):
        folder = (key[0], _top_folder(key[1]))
        place[key] = (in_folder.get(folder, 0), folder)
        in_folder[folder] = place[key][0] + 1
    ranked = sorted(((j, *place[key], key), q) for key, qs in per_doc.items() for j, q in enumerate(qs))
    return [q for _, q in ranked[:n]]


def _top_folder(source: str) -> str:
    parts = PurePosixPath(source).parts
    return parts[0] if len(parts) > 1 else ""


class QuestionBook:
    """The questions files of the ingested folders, each read again only when it changed on disk.
    Thread-safe (one per page process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], list[SampleQuestion]]] = {}

    def questions(self, roots: Sequence[str]) -> list[SampleQuestion]:
        out: list[SampleQuestion] = []
        for root in sorted(set(roots)):
            out += self._read(root)
        return out

    def _read(self, root: str) -> list[SampleQuestion]:
        path = Path(root) / QUESTIONS_FILE
        try:
            st = path.stat()
        except OSError:
            return []
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._cache.get(path)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        parsed = sample_questions(read_qa_file(path, fmt="qa").records, root)  # bad lines are skipped there
        with self._lock:
            self._cache[path] = (stamp, parsed)
        return parsed

    def suggest(self, visible: Sequence[DocumentInfo], filters: Filters | None = None,
                n: int = MAX_SUGGESTIONS) -> list[SampleQuestion]:
        """Suggestions for an asker who may see ``visible`` (questions files are looked for only in
        the folders those documents were ingested from)."""
        return pick_suggestions(self.questions([d.root for d in visible]), visible, filters, n)
