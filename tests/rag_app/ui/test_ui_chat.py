from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from rag_app import Answer, AnswerEvent
from rag_app.ui.chat import AnswerJob, Conversation, question_problem


def _answer(q: str, text: str, refused: bool = False) -> Answer:
    return Answer(question=q, text=text, citations=(), contexts=(), refused=refused, generator="test")


def test_question_checks() -> None:
    assert "empty" in (question_problem("   ", 2000) or "")
    assert "20,000 characters long; the limit is 2,000" in (question_problem("x" * 20_000, 2000) or "")
    assert question_problem("How many days?", 2000) is None


def test_a_job_streams_deltas_to_a_follower_while_it_runs() -> None:
    gate = threading.Event()

    def events() -> Iterator[AnswerEvent]:
        yield AnswerEvent(delta="Ten ")
        gate.wait(5)
        yield AnswerEvent(delta="days")
        yield AnswerEvent(answer=_answer("q", "Ten days"))

    with ThreadPoolExecutor(1) as pool:
        job = AnswerJob("q", events).start(pool)
        seen = job.follow()
        assert next(seen) == "Ten "
        assert job.phase == "writing"
        gate.set()
        assert list(seen) == ["days"]
    assert job.phase == "done" and job.answer is not None and job.answer.text == "Ten days"
    assert list(job.follow()) == ["Ten ", "days"]  # a later run replays from the start


def test_a_failing_job_reports_in_words() -> None:
    def events() -> Iterator[AnswerEvent]:
        raise ValueError("bad generator spec 'x'")
        yield AnswerEvent()

    job = AnswerJob("q", events).run_here()
    assert job.phase == "failed" and job.error == "bad generator spec 'x'"


def test_messages_sent_while_answering_are_queued_in_order_then_refused_when_full() -> None:
    conv = Conversation()
    started: list[tuple[str, int]] = []

    def make(q: str, history: list) -> AnswerJob:  # type: ignore[type-arg]
        started.append((q, len(history)))
        return AnswerJob(q, lambda: iter([AnswerEvent(delta=q), AnswerEvent(answer=_answer(q, "A:" + q))]))

    assert conv.submit("first", max_pending=2) is None
    conv.start_next(make)
    assert conv.submit("second", 2) is None and conv.submit("third", 2) is None
    assert "not taken" in (conv.submit("fourth", 2) or "")
    assert conv.finish() is None  # still running: nothing moves
    for expected in ("first", "second", "third"):
        assert conv.job is not None
        conv.job.run_here()
        turn = conv.finish()
        assert turn is not None and turn.question == expected and turn.answer is not None
        conv.start_next(make)
    assert [t.question for t in conv.turns] == ["first", "second", "third"]
    assert started == [("first", 0), ("second", 2), ("third", 4)]  # follow-ups carry the history
    assert conv.job is None and conv.pending == []


def test_history_leaves_refusals_out() -> None:
    conv = Conversation()
    conv.submit("a", 3)
    conv.start_next(lambda q, h: AnswerJob(q, lambda: iter([AnswerEvent(answer=_answer(q, "no", refused=True))])))
    assert conv.job is not None
    conv.job.run_here()
    conv.finish()
    assert conv.history() == []
