from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag_app import Answer, Citation, Hit, Message
from rag_app.ui.feedback import (
    FEEDBACK_SCHEMA_VERSION,
    FeedbackRecord,
    FeedbackStore,
    read_feedback,
    summarise,
)
from retrieval.types import Chunk


def _answer(text: str = "Ten days [1].", generator: str = "extractive") -> Answer:
    chunk = Chunk(id="c1", doc_id="d1", text="Employees get ten days.", source="hr/leave.md", start=0, end=23,
                  ordinal=0)
    return Answer(question="How many days?", text=text, citations=(Citation(1, "c1", "hr/leave.md", None, ""),),
                  contexts=(Hit(chunk, 0.9, "dense"),), refused=False, generator=generator,
                  settings={"generator": generator, "answer": {"top_k": 5}})


def test_records_round_trip_with_every_field_the_finetune_reader_needs(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.jsonl")
    rec = FeedbackRecord.new(user="aiko", groups=["hr"], answer=_answer(),
                             history=[Message("user", "hi"), Message("assistant", "hello")], rating="down")
    store.append(rec)
    store.append(rec.revised(comment="too short", corrected_answer="Ten days of paid leave [1]."))
    line = json.loads((tmp_path / "fb.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert line["schema_version"] == FEEDBACK_SCHEMA_VERSION and line["revision"] == 2
    assert line["question"] == "How many days?" and line["context_chunk_ids"] == ["c1"]
    assert line["answer"]["citations"][0]["source"] == "hr/leave.md"
    assert line["answer"]["settings"]["generator"] == "extractive"
    assert (line["user"], line["rating"], line["comment"]) == ("aiko", "down", "too short")
    assert line["corrected_answer"] == "Ten days of paid leave [1]."
    log = read_feedback(tmp_path / "fb.jsonl")
    assert len(log.records) == 1 and log.records[0].revision == 2  # the latest revision wins
    assert log.records[0].answer == rec.answer and log.records[0].history == rec.history


def test_unreadable_lines_are_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "fb.jsonl"
    FeedbackStore(path).append(FeedbackRecord.new(user="u", groups=[], answer=_answer(), rating="up"))
    with open(path, "a", encoding="utf-8") as f:
        f.write("{broken\n" + json.dumps({"format": "ragqa-feedback", "schema_version": 99}) + "\n")
    log = read_feedback(path)
    assert len(log.records) == 1
    assert log.problems[0].startswith("line 2:") and "schema_version 99" in log.problems[1]


def test_summary_counts_and_puts_commented_bad_answers_first() -> None:
    a = FeedbackRecord.new(user="u", groups=[], answer=_answer(), rating="up")
    b = FeedbackRecord.new(user="u", groups=[], answer=_answer(generator="smollm2"), rating="down")
    c = FeedbackRecord.new(user="u", groups=[], answer=_answer(), rating="down").revised(comment="wrong")
    s = summarise([a, b, c])
    assert (s.total, s.up, s.down) == (3, 1, 2)
    assert s.by_generator == {"extractive": (1, 1), "smollm2": (0, 1)}
    assert [r.feedback_id for r in s.worst] == [c.feedback_id, b.feedback_id]


def test_unknown_rating_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rating 'meh'; allowed: up, down"):
        FeedbackRecord.new(user="u", groups=[], answer=_answer(), rating="meh")
