"""The question-file loader: every format, bad lines reported with file:line, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import DatasetError, Question, load_dataset

QA_FILE = Path(__file__).resolve().parents[2] / "docs_corpus" / "qa.jsonl"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_docs_corpus_qa_file() -> None:
    ds = load_dataset(QA_FILE)
    assert ds.format == "qa" and ds.problems == () and len(ds.questions) == 119
    unanswerable = [q for q in ds.questions if q.answerable is False]
    assert len(unanswerable) == 13 and all(q.golds == () and q.topic == "(unanswerable)" for q in unanswerable)
    q1 = ds.questions[0]
    assert (q1.qid, q1.lang, q1.golds, q1.gold_sources, q1.topic) == ("q001", "ja", ("10日",),
                                                                     ("hr/leave_policy_ja.pdf",), "hr")
    assert any(q.groups == ("hr",) for q in ds.questions)
    assert len(ds.sha256) == 64 and ds.has_references


def test_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "qa.jsonl", [
        json.dumps({"id": "a", "question": "How many days?", "answer": "10", "answerable": True}),
        "{not json",
        json.dumps({"id": "b", "question": ""}),
        json.dumps({"id": "c", "question": "Bonjour ?", "lang": "fr"}),
        json.dumps(["a list"]),
        json.dumps({"id": "a", "question": "Duplicate id?"}),
    ])
    ds = load_dataset(path)
    assert [q.qid for q in ds.questions] == ["a"]
    where = [p.where for p in ds.problems]
    assert where == [f"{path}:2", f"{path}:3", f"{path}:4", f"{path}:5", f"{path}:a"]
    reasons = [p.reason for p in ds.problems]
    assert reasons[0].startswith("not valid JSON") and "fix or delete the line" in reasons[0]
    assert reasons[1] == "\"question\" must be a non-empty string, got ''"
    assert reasons[2] == "lang 'fr' is not supported; allowed: ja, en (or leave it out to detect it)"
    assert "duplicate id 'a'" in reasons[4]


def test_nothing_usable_is_an_error_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", ["{oops", json.dumps({"q": "wrong key"})])
    with pytest.raises(DatasetError, match=r"bad\.jsonl: no usable question \(2 bad lines; .*bad\.jsonl:1: not valid "
                                           r"JSON.*\"question\" \(qa\.jsonl / plain list\) or \"user_input\" \(ragas\)"):
        load_dataset(path)
    with pytest.raises(DatasetError, match=r"dataset file .*missing\.jsonl does not exist: give a qa\.jsonl"):
        load_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="unknown dataset format 'xml'; allowed: auto, qa, squad, ragas, questions"):
        load_dataset(path, fmt="xml")


def test_squad_format(tmp_path: Path) -> None:
    data = {"data": [{"title": "Super Bowl 50", "paragraphs": [
        {"context": "...", "qas": [{"id": "s1", "question": "Who won?", "answers": [{"text": "Denver Broncos"},
                                                                                    {"text": "Denver Broncos"},
                                                                                    {"text": "the Broncos"}]},
                                   {"id": "s2", "question": "Who lost?", "answers": [], "is_impossible": True},
                                   {"id": "s3", "question": ""}]}]},
        {"title": "東京", "paragraphs": [{"context": "...", "qas": [{"id": "j1", "question": "首都はどこ？",
                                                                    "answers": [{"text": "東京"}]}]}]}]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    ds = load_dataset(path)
    s1, s2, j1 = ds.questions
    assert s1.golds == ("Denver Broncos", "the Broncos") and s1.gold_sources == ("000-Super_Bowl_50/000.txt",)
    assert s2.answerable is False and s2.golds == ()
    assert j1.lang == "ja" and j1.topic == "東京" and j1.gold_sources == ("001-東京/000.txt",)
    assert [p.where for p in ds.problems] == [f"{path}:data[0].paragraphs[0].qas[2]"]


def test_ragas_evaluation_dataset_jsonl(tmp_path: Path) -> None:
    path = _write(tmp_path / "ragas.jsonl", [
        json.dumps({"user_input": "What port does the VPN use?", "reference": "51820",
                    "reference_context_ids": ["c1", "c7"], "response": "ignored"}),
        json.dumps({"user_input": "Who is on call?"}),
    ])
    ds = load_dataset(path)
    a, b = ds.questions
    assert ds.format == "ragas" and a.golds == ("51820",) and a.gold_chunk_ids == ("c1", "c7") and a.answerable
    assert b.answerable is None and not b.has_reference


def test_plain_question_lists_csv_and_jsonl(tmp_path: Path) -> None:
    csv_path = tmp_path / "q.csv"
    csv_path.write_text("id,question,groups\nx1,VPN の接続方法は？,\"hr,eng\"\nx2,,\n", encoding="utf-8")
    ds = load_dataset(csv_path)
    assert [(q.qid, q.lang, q.groups) for q in ds.questions] == [("x1", "ja", ("hr", "eng"))]
    assert ds.problems[0].where == f"{csv_path}:3" and not ds.has_references
    jl = load_dataset(_write(tmp_path / "q.jsonl", [json.dumps({"question": "What is the uptime?"})]))
    assert jl.format == "questions" and jl.questions[0].qid.startswith("q-") and jl.questions[0].answerable is None
    with pytest.raises(DatasetError, match="needs a header row with a 'question' column"):
        load_dataset(_write(tmp_path / "noheader.csv", ["text", "hello"]))


def test_question_round_trips() -> None:
    q = Question("q1", "質問", "ja", golds=("a",), answerable=True, groups=("hr",), gold_sources=("x/y.md",), topic="x")
    assert Question.from_dict(json.loads(json.dumps(q.to_dict()))) == q
    assert q.input_hash() != Question("q1", "質問", "ja", groups=("eng",)).input_hash()
