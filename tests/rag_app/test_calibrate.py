"""Calibration reads its labelled questions through rag_app.qa_file: a bad line is skipped and
reported in the result, never fatal; a file with nothing usable is an error naming it."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ingest.types import Chunk
from rag_app.calibrate import calibrate
from retrieval.types import Hit

# question -> the dense score its top hit gets (asked without groups: a restricted question scores low)
SCORES = {"Leave days?": 0.9, "Salary bands?": 0.8, "Weather on Mars?": 0.2}


class _FakeRAG:
    """What calibrate uses of a RAG: the mode, retrieve() and the retriever's name."""

    def __init__(self) -> None:
        self.config = SimpleNamespace(answer=SimpleNamespace(mode="dense"))
        self.retriever = SimpleNamespace(name="fake")

    def retrieve(self, question: str, *, groups: list[str]) -> tuple[Any, list[Hit]]:
        chunk = Chunk(id="c1", doc_id="d", text="t", source="d.md", start=0, end=1, ordinal=0)
        score = SCORES[question] if groups or question != "Salary bands?" else 0.1
        return None, [Hit(chunk=chunk, score=score, retriever="fake", dense_score=score)]


def test_bad_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join([
        json.dumps({"id": "a", "question": "Leave days?", "answerable": True}),
        json.dumps({"id": "b", "question": "Salary bands?", "answerable": True, "groups": ["hr"]}),
        "{oops",
        json.dumps({"id": "c", "question": "Unlabelled?"}),
        json.dumps({"id": "d", "question": "Weather on Mars?", "answerable": False}),
    ]) + "\n", encoding="utf-8")
    cal = calibrate(_FakeRAG(), qa, store=False)  # type: ignore[arg-type]
    assert (cal.positives, cal.negatives, cal.balanced_accuracy) == (2, 2, 1.0)
    assert [p.where for p in cal.problems] == [f"{qa}:3", f"{qa}:4"]
    assert cal.to_json()["problems"][1] == f'{qa}:4: missing "answerable": say true or false'
    json.dumps(cal.to_json())


def test_a_file_with_nothing_usable_is_an_error(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Unlabelled?"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"qa\.jsonl: no usable labelled question \(.*qa\.jsonl:1: missing "
                                         r"\"answerable\": say true or false\); each line needs question, answerable"):
        calibrate(_FakeRAG(), qa, store=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"missing\.jsonl: file does not exist"):
        calibrate(_FakeRAG(), tmp_path / "missing.jsonl", store=False)  # type: ignore[arg-type]
