"""The feedback store: one JSON object per line, appended by the page, read by ``ragqa finetune data``.

Schema (``FEEDBACK_SCHEMA_VERSION`` = 1); every line is one ``FeedbackRecord.to_dict()``::

    {"format": "ragqa-feedback", "schema_version": 1,
     "feedback_id": "9f1c...",        # one answer's feedback; a later revision replaces an earlier one
     "revision": 2,                   # 1: the thumb; 2, 3...: the comment / corrected answer added
     "time": "2026-12-01T09:30:00+00:00",
     "user": "aiko", "groups": ["hr"],
     "rating": "up" | "down" | null,
     "comment": "", "corrected_answer": "",
     "question": "...",               # as asked
     "history": [{"role": "user", "content": "..."}, ...],   # the conversation before it
     "context_chunk_ids": ["..."],    # the prompt's context blocks, [n] = index n-1
     "answer": {...}}                 # Answer.to_dict(): text, citations, contexts, settings, prompt...

``read_feedback`` keeps the latest revision of each ``feedback_id`` and reports unreadable lines
by number instead of failing: a reader of this file gets what is usable.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag_app.types import Answer, Message

FEEDBACK_FORMAT = "ragqa-feedback"
FEEDBACK_SCHEMA_VERSION = 1
RATINGS = ("up", "down")


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    feedback_id: str
    user: str
    groups: tuple[str, ...]
    question: str
    answer: Answer
    rating: str | None = None
    comment: str = ""
    corrected_answer: str = ""
    history: tuple[Message, ...] = ()
    revision: int = 1
    time: str = ""

    @classmethod
    def new(cls, *, user: str, groups: Sequence[str], answer: Answer, history: Sequence[Message] = (),
            rating: str | None = None) -> FeedbackRecord:
        check_rating(rating)
        return cls(feedback_id=uuid.uuid4().hex, user=user, groups=tuple(groups), question=answer.question,
                   answer=answer, rating=rating, history=tuple(history), time=_now())

    def revised(self, *, rating: str | None = None, comment: str | None = None,
                corrected_answer: str | None = None) -> FeedbackRecord:
        """The next revision with the given fields changed (None: keep)."""
        check_rating(rating)
        return replace(self, revision=self.revision + 1, time=_now(),
                       rating=self.rating if rating is None else rating,
                       comment=self.comment if comment is None else comment.strip(),
                       corrected_answer=self.corrected_answer if corrected_answer is None else corrected_answer.strip())

    @property
    def context_chunk_ids(self) -> list[str]:
        return [h.chunk.id for h in self.answer.contexts]

    def to_dict(self) -> dict[str, Any]:
        return {"format": FEEDBACK_FORMAT, "schema_version": FEEDBACK_SCHEMA_VERSION,
                "feedback_id": self.feedback_id, "revision": self.revision, "time": self.time,
                "user": self.user, "groups": list(self.groups), "rating": self.rating, "comment": self.comment,
                "corrected_answer": self.corrected_answer, "question": self.question,
                "history": [m.to_dict() for m in self.history], "context_chunk_ids": self.context_chunk_ids,
                "answer": self.answer.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeedbackRecord:
        if d.get("format") != FEEDBACK_FORMAT:
            raise ValueError(f"not a ragqa feedback record (format {d.get('format')!r})")
        version = d.get("schema_version")
        if version != FEEDBACK_SCHEMA_VERSION:
            raise ValueError(f"feedback schema_version {version!r} is not {FEEDBACK_SCHEMA_VERSION}, the version "
                             "this ragqa reads")
        return cls(feedback_id=str(d["feedback_id"]), revision=int(d["revision"]), time=str(d.get("time", "")),
                   user=str(d["user"]), groups=tuple(d.get("groups") or ()), rating=check_rating(d.get("rating")),
                   comment=str(d.get("comment") or ""), corrected_answer=str(d.get("corrected_answer") or ""),
                   question=str(d["question"]), history=tuple(Message.from_dict(m) for m in d.get("history") or ()),
                   answer=Answer.from_dict(d["answer"]))


def check_rating(rating: str | None) -> str | None:
    if rating is not None and rating not in RATINGS:
        raise ValueError(f"unknown rating {rating!r}; allowed: {', '.join(RATINGS)} or None")
    return rating


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class FeedbackLog:
    records: list[FeedbackRecord]  # latest revision per feedback_id, oldest first
    problems: list[str] = field(default_factory=list)  # "line N: why"


def parse_feedback(text: str) -> FeedbackLog:
    latest: dict[str, FeedbackRecord] = {}
    problems: list[str] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = FeedbackRecord.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError) as e:  # JSONDecodeError is a ValueError
            problems.append(f"line {i}: {e}")
            continue
        old = latest.get(rec.feedback_id)
        if old is None or rec.revision >= old.revision:
            latest[rec.feedback_id] = rec
    return FeedbackLog(sorted(latest.values(), key=lambda r: r.time), problems)


def read_feedback(path: Path | str) -> FeedbackLog:
    p = Path(path)
    if not p.is_file():
        return FeedbackLog([])
    return parse_feedback(p.read_text(encoding="utf-8", errors="replace"))


class FeedbackStore:
    """Appends records to ``path``; one line per write, under a thread lock and a file lock (several
    page processes may share a store)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: FeedbackRecord) -> None:
        line = json.dumps(record.to_dict(), ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                f.write(line)
                f.flush()
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def read(self) -> FeedbackLog:
        return read_feedback(self.path)


@dataclass(frozen=True, slots=True)
class FeedbackSummary:
    total: int
    up: int
    down: int
    by_generator: dict[str, tuple[int, int]]  # generator -> (up, down)
    worst: list[FeedbackRecord]  # rated down, those with a corrected answer or comment first, newest first


def summarise(records: Sequence[FeedbackRecord], worst_n: int = 20) -> FeedbackSummary:
    up = Counter(r.answer.generator for r in records if r.rating == "up")
    down = Counter(r.answer.generator for r in records if r.rating == "down")
    bad = [r for r in records if r.rating == "down"]
    bad.sort(key=lambda r: r.time, reverse=True)
    bad.sort(key=lambda r: not (r.corrected_answer or r.comment))  # stable: keeps newest first within
    return FeedbackSummary(total=len(records), up=sum(up.values()), down=sum(down.values()),
                           by_generator={g: (up[g], down[g]) for g in sorted(set(up) | set(down))},
                           worst=bad[:worst_n])


def export_jsonl(records: Sequence[FeedbackRecord]) -> str:
    """The records (one latest revision each) as JSON Lines, for download."""
    return "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records)
