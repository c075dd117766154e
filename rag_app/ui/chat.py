"""One conversation on the page: questions checked, queued while an answer is written, answered
in a worker thread.

Streamlit reruns the page script on every interaction, and a rerun stops the run that is
writing. So the answer is not written by the script: an ``AnswerJob`` runs ``RAG.stream`` in a
worker thread and keeps every delta; each script run only shows what the job has so far and
follows it until it ends. A message sent while an answer is written waits in ``pending`` (up to
``max_pending``; more are refused with a message), and is answered after it, in order: nothing
is lost or interleaved.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from rag_app.rag import AnswerEvent
from rag_app.types import Answer, Message

EventSource = Callable[[], Iterator[AnswerEvent]]


def question_problem(text: str | None, max_chars: int) -> str | None:
    """Why ``text`` cannot be asked, in words; None when it can."""
    if text is None or not text.strip():
        return "The question is empty: type a question, e.g. “How many days of paid leave do I get?”"
    if len(text) > max_chars:
        return (f"The question is {len(text):,} characters long; the limit is {max_chars:,}. "
                "Ask about one thing at a time, or search for a few key words.")
    return None


class AnswerJob:
    """``RAG.stream`` run in a worker thread; any thread may follow its deltas (thread-safe)."""

    def __init__(self, question: str, source: EventSource) -> None:
        self.question = question
        self._source = source
        self._deltas: list[str] = []
        self._answer: Answer | None = None
        self._error: str | None = None
        self._done = False
        self._cond = threading.Condition()

    def start(self, executor: Executor) -> AnswerJob:
        executor.submit(self._run)
        return self

    def run_here(self) -> AnswerJob:
        """Run in the calling thread (tests, and callers with no executor)."""
        self._run()
        return self

    def _run(self) -> None:
        try:
            for ev in self._source():
                with self._cond:
                    if ev.answer is not None:
                        self._answer = ev.answer
                    elif ev.delta:
                        self._deltas.append(ev.delta)
                    self._cond.notify_all()
            if self._answer is None:
                raise RuntimeError("the answer stream ended without a final answer")
        except Exception as e:  # shown on the page in words; the conversation goes on
            with self._cond:
                self._error = _describe(e)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    @property
    def phase(self) -> str:
        """"searching" (nothing written yet), "writing", "done" or "failed"."""
        with self._cond:
            if self._done:
                return "failed" if self._error else "done"
            return "writing" if self._deltas else "searching"

    @property
    def answer(self) -> Answer | None:
        with self._cond:
            return self._answer

    @property
    def error(self) -> str | None:
        with self._cond:
            return self._error

    def follow(self, poll_s: float = 0.1, tick: Callable[[], None] | None = None) -> Iterator[str]:
        """Every delta from the first, then new ones as they come, until the job ends. ``tick``
        is called (outside the lock) after every ``poll_s`` seconds that brought nothing new: the
        page shows the time so far there, which also lets Streamlit take a message sent meanwhile.
        Streamlit keeps only the newest of two messages sent before the run stops at such a point
        (its requests coalesce), so the poll is short: two messages 0.1 s apart are not typed."""
        i = 0
        while True:
            with self._cond:
                if i >= len(self._deltas) and not self._done:
                    self._cond.wait(poll_s)
                new, done = self._deltas[i:], self._done
            i += len(new)
            yield from new
            if done:  # every delta is in before done is set
                return
            if not new and tick is not None:
                tick()

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._done, timeout)


def _describe(e: Exception) -> str:
    from ingest.catalog import IndexMismatchError
    from rag_app.generators.errors import GeneratorError

    if isinstance(e, IndexMismatchError | GeneratorError | ValueError):
        return str(e)
    return f"{type(e).__name__}: {e}"


_turn_ids = itertools.count(1)


@dataclass
class Turn:
    """One question and what came of it. ``id`` is unique in the process (anchors, widget keys)."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    id: int = field(default_factory=lambda: next(_turn_ids))
    feedback: Any = None  # the FeedbackRecord saved for this answer, if any


@dataclass
class Conversation:
    """The turns so far, the job writing now and the questions waiting for it. Mutated by the
    page script only (one script run at a time per session)."""

    turns: list[Turn] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    job: AnswerJob | None = None
    current: Turn | None = None
    notice: str | None = None  # why the last message was not taken; shown until one is

    def submit(self, question: str, max_pending: int) -> str | None:
        """Queue ``question``; a message when it was refused (the queue is full). The message is
        kept in ``notice`` until a later question is taken."""
        if len(self.pending) >= max_pending:
            self.notice = (f"{len(self.pending)} questions are already waiting for the answer being written; "
                           f"this one was not taken: “{_shorten(question)}”. Send it again when they are answered.")
            return self.notice
        self.pending.append(question)
        self.notice = None
        return None

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start_next(self, make_job: Callable[[str, list[Message]], AnswerJob],
                   history_turns: int = 4) -> AnswerJob | None:
        """Start answering the first waiting question with the last ``history_turns`` exchanges
        (None when idle and nothing waits)."""
        if self.job is not None or not self.pending:
            return self.job
        q = self.pending.pop(0)
        self.current = Turn(question=q)
        self.job = make_job(q, self.history(history_turns))
        return self.job

    def finish(self) -> Turn | None:
        """Move the ended job into the turns; None while it is still running."""
        job, turn = self.job, self.current
        if job is None or turn is None or job.phase not in ("done", "failed"):
            return None
        turn.answer, turn.error = job.answer, job.error
        self.turns.append(turn)
        self.job, self.current = None, None
        return turn

    def history(self, turns: int = 4) -> list[Message]:
        """The last ``turns`` answered exchanges as messages (a refusal or error is left out: it
        gives a follow-up nothing to lean on)."""
        done = [t for t in self.turns if t.answer is not None and not t.answer.refused][-turns:]
        out: list[Message] = []
        for t in done:
            assert t.answer is not None
            out += [Message("user", t.question), Message("assistant", t.answer.text)]
        return out

    def clear(self) -> None:
        self.turns.clear()
        self.pending.clear()
        self.notice = None


def _shorten(text: str, chars: int = 80) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def make_stream(rag: Any, question: str, *, groups: Sequence[str], history: Sequence[Message],
                filters: Any) -> EventSource:
    """The event source of one question over ``rag`` with the asker's groups and filters."""
    return lambda: rag.stream(question, groups=list(groups), history=list(history), filters=filters)
