"""The one gold-QA-file reader: every format into typed records; each bad line a LineProblem naming
file:line (or the SQuAD JSON path) and the fix, skipped, never raised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag_app.qa_file import LineProblem, QARecord, read_qa_file, squad_passage

QA_FILE = Path(__file__).resolve().parents[2] / "docs_corpus" / "qa.jsonl"


def _jsonl(path: Path, *rows: object) -> Path:
    """One line per row: a dict or list as JSON, a str as it is (a bad line)."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _reasons(problems: tuple[LineProblem, ...]) -> list[tuple[str, str]]:
    return [(p.where.rsplit("/", 1)[-1], p.reason) for p in problems]


def test_docs_corpus_qa_file_reads_clean() -> None:
    got = read_qa_file(QA_FILE, require=("answerable", "answer", "source"))
    assert got.problems == () and got.container == "jsonl" and got.formats == ("qa",)
    assert len(got.records) == got.seen == 119 and sum(r.answerable is False for r in got.records) == 13
    first = got.records[0]
    assert (first.qid, first.lang, first.answers, first.source, first.where, first.line) == (
        "q001", "ja", ("10日",), "hr/leave_policy_ja.pdf", f"{QA_FILE}:1", 1)


def test_every_bad_line_is_one_problem_with_its_fix(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "qa.jsonl",
                  {"id": "ok", "question": "How many days?", "answer": "10", "source": "hr/leave.md"},
                  "{not json",
                  ["a list"],
                  {"id": "b", "question": ""},
                  {"id": "c", "question": "Bonjour ?", "lang": "fr"},
                  {"id": "d", "question": "Q?", "answerable": "maybe"},
                  {"id": "e", "question": "Q?", "groups": {"hr": 1}},
                  {"id": "ok", "question": "Same id again?"},
                  "")
    got = read_qa_file(path)
    assert [r.qid for r in got.records] == ["ok"] and got.seen == 8
    assert _reasons(got.problems) == [
        ("qa.jsonl:2", "not valid JSON (Expecting property name enclosed in double quotes at column 2): "
                       "fix or delete the line"),
        ("qa.jsonl:3", "expected a JSON object, got list"),
        ("qa.jsonl:4", "\"question\" must be a non-empty string, got ''"),
        ("qa.jsonl:5", "lang 'fr' is not supported; allowed: ja, en (or leave it out to detect it)"),
        ("qa.jsonl:6", "\"answerable\" must be true or false, got 'maybe'"),
        ("qa.jsonl:7", "\"groups\" must be a string or a list of strings, got {'hr': 1}"),
        ("qa.jsonl:ok", "duplicate id 'ok': only its first question is kept"),
    ]


def test_required_fields_are_missing_field_problems(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "qa.jsonl",
                  {"id": "a", "question": "Q1?", "answer": "x", "source": "d.md"},
                  {"id": "b", "question": "Q2?", "answerable": True, "source": "d.md"},
                  {"id": "c", "question": "Q3?", "answer": "y"},
                  {"id": "d", "question": "Q4?"},
                  {"id": "e", "question": "Q5?", "answerable": False})
    assert [r.qid for r in read_qa_file(path).records] == ["a", "b", "c", "d", "e"]
    gold = read_qa_file(path, require=("source", "answer"))
    assert [r.qid for r in gold.records] == ["a", "e"]
    assert _reasons(gold.problems) == [
        ("qa.jsonl:2", 'answerable question without an answer: give its "answer" (or mark it "answerable": false)'),
        ("qa.jsonl:3", 'answerable question without a "source": name the document that holds its answer '
                       '(or mark it "answerable": false)'),
        ("qa.jsonl:4", 'answerable question without a "source": name the document that holds its answer '
                       '(or mark it "answerable": false)'),
    ]
    labelled = read_qa_file(path, require=("answerable",))
    assert [r.qid for r in labelled.records] == ["a", "b", "c", "e"]  # an answer says it is answerable
    assert _reasons(labelled.problems) == [("qa.jsonl:4", 'missing "answerable": say true or false')]
    with pytest.raises(ValueError, match=r"cannot require 'page'; allowed: answerable, answer, source, "
                                         r"answer_in_passage"):
        read_qa_file(path, require=("page",))
    with pytest.raises(ValueError, match="unknown QA file format 'xml'; allowed: auto, qa, squad, ragas, questions"):
        read_qa_file(path, fmt="xml")


def test_unusable_files_are_one_problem_each(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"question": "caf\u00e9?"}\n'.encode("latin-1"))
    noheader = _jsonl(tmp_path / "q.csv", "text", "hello")
    not_squad = _jsonl(tmp_path / "list.json", [1, 2])
    broken = _jsonl(tmp_path / "broken.json", '{"data": [', "}")
    got = {p.name: read_qa_file(p) for p in (empty, latin, noheader, not_squad, broken, tmp_path / "missing.jsonl")}
    assert {name: [str(pr) for pr in r.problems] for name, r in got.items()} == {
        "empty.jsonl": [f"{empty}: empty file"],
        "latin.jsonl": [f"{latin}: not UTF-8 text (invalid continuation byte at byte 17): save it as UTF-8"],
        "q.csv": [f"{noheader}: a CSV question file needs a header row with a 'question' column (found ['text']); "
                  "optional columns: id, lang, groups, answer"],
        "list.json": [f'{not_squad}: not a SQuAD-format file: expected a JSON object with a "data" list of articles'],
        "broken.json": [f"{broken}: not a SQuAD-format JSON file (Expecting value at line 2): fix it, or give a "
                        "qa.jsonl file a .jsonl name"],
        "missing.jsonl": [f"{tmp_path / 'missing.jsonl'}: file does not exist"],
    }
    assert all(r.records == () for r in got.values())


def _squad(path: Path) -> Path:
    data = {"data": [
        {"title": "Super Bowl 50", "paragraphs": [
            {"context": "The Denver Broncos beat the Carolina Panthers.", "qas": [
                {"id": "s1", "question": "Who won?", "answers": [{"text": "Denver Broncos"}, {"text": "Denver Broncos"},
                                                                 {"text": " the Broncos "}]},
                {"id": "s2", "question": "Who lost?", "answers": [], "is_impossible": True},
                {"id": "s3", "question": ""},
                {"id": "s4", "question": "Who sang?", "answers": [{"text": "Beyoncé"}]},
                {"id": "s5", "question": "Who scored?", "answers": []}]}]},
        {"title": "東京", "paragraphs": [{"context": "東京 [SEP] 日本の首都は東京です。", "qas": [
            {"id": "j1", "question": "首都はどこ？", "answers": [{"text": "東京"}]}]}]}]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_squad_paragraphs_are_documents_and_answers_are_checked_against_them(tmp_path: Path) -> None:
    path = _squad(tmp_path / "dev-v1.1.json")
    got = read_qa_file(path)
    assert got.container == "squad" and got.formats == ("squad",) and got.seen == 6
    assert got.passages == {"000-Super_Bowl_50/000.txt": "The Denver Broncos beat the Carolina Panthers.",
                            "001-東京/000.txt": "東京\n日本の首都は東京です。"}
    s1, s2, s4, s5, j1 = got.records
    assert s1 == QARecord(qid="s1", question="Who won?", lang="en", format="squad",
                          where=f"{path}:data[0].paragraphs[0].qas[0]", answers=("Denver Broncos", "the Broncos"),
                          answerable=True, sources=("000-Super_Bowl_50/000.txt",), title="Super Bowl 50",
                          article="000-Super_Bowl_50")
    assert (s2.answerable, s2.answers) == (False, ())
    assert (s5.answerable, s4.answerable) == (None, True)  # no answer, not marked impossible: the file does not say
    assert (j1.lang, j1.title, j1.source) == ("ja", "東京", "001-東京/000.txt")
    assert _reasons(got.problems) == [("dev-v1.1.json:data[0].paragraphs[0].qas[2]",
                                       "\"question\" must be a non-empty string, got ''")]
    gold = read_qa_file(path, require=("source", "answer", "answer_in_passage"))
    assert [r.qid for r in gold.records] == ["s1", "s2", "j1"]
    assert _reasons(gold.problems)[1:] == [
        ("dev-v1.1.json:data[0].paragraphs[0].qas[3]", "answer not in its passage"),
        ("dev-v1.1.json:data[0].paragraphs[0].qas[4]",
         'answerable question without an answer: give its "answers" (or mark it "is_impossible": true)'),
    ]


def test_squad_is_recognised_by_content_and_jsonl_lines_by_their_keys(tmp_path: Path) -> None:
    squad = _squad(tmp_path / "squad_as.txt")
    assert read_qa_file(squad).container == "squad"
    assert read_qa_file(squad, fmt="qa").container == "jsonl"
    mixed = _jsonl(tmp_path / "mixed.jsonl",
                   {"question": "What is the uptime?"},
                   {"user_input": "What port?", "reference": "51820", "reference_context_ids": ["c1", "c7"],
                    "reference_contexts": ["Port 51820."], "response": "ignored"},
                   {"id": 7, "question": "VPN の接続方法は？", "answers": ["a", "b"], "sources": ["x/y.md"],
                    "groups": "hr, eng", "chunk_ids": "c1,c2"})
    plain, ragas, qa = read_qa_file(mixed).records
    assert (plain.format, plain.answerable, plain.qid[:2]) == ("questions", None, "q-")
    assert (ragas.format, ragas.answers, ragas.chunk_ids, ragas.contexts, ragas.answerable) == (
        "ragas", ("51820",), ("c1", "c7"), ("Port 51820.",), True)
    assert (qa.qid, qa.lang, qa.answers, qa.sources, qa.groups, qa.chunk_ids, qa.answerable) == (
        "7", "ja", ("a", "b"), ("x/y.md",), ("hr", "eng"), ("c1", "c2"), True)
    assert read_qa_file(mixed).formats == ("qa", "questions", "ragas")


def test_csv_question_lists(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("id,question,groups,answerable\nx1,VPN の接続方法は？,\"hr,eng\",\nx2,,,\nx3,Uptime?,,no\n",
                    encoding="utf-8")
    got = read_qa_file(path)
    assert got.container == "csv" and got.seen == 3
    assert [(r.qid, r.lang, r.groups, r.answerable, r.line) for r in got.records] == [
        ("x1", "ja", ("hr", "eng"), None, 2), ("x3", "en", (), False, 4)]
    assert _reasons(got.problems) == [("q.csv:3", "\"question\" must be a non-empty string, got ''")]


def test_jsquad_context_becomes_a_titled_document() -> None:
    assert squad_passage("東京 [SEP] 日本の首都。") == "東京\n日本の首都。"
    assert squad_passage("No marker here.") == "No marker here."


def test_questions_are_kept_as_written_and_squad_titles_in_file_order(tmp_path: Path) -> None:
    """SQuAD has trailing spaces on 344 dev questions: ``question`` is stripped, ``verbatim_question``
    is what the file wrote (what a benchmark asks, so text-keyed caches stay valid)."""
    data = {"data": [
        {"title": "Empty article", "paragraphs": []},
        {"title": "Super Bowl 50", "paragraphs": [{"context": "Denver won.", "qas": [
            {"id": "s1", "question": "Who won? ", "answers": [{"text": "Denver"}]},
            {"id": "s2", "question": "Where?", "answers": [{"text": "Denver"}]}]}]}]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    got = read_qa_file(path)
    assert got.articles == ("Empty article", "Super Bowl 50")
    s1, s2 = got.records
    assert (s1.question, s1.raw_question, s1.verbatim_question, s1.article) == (
        "Who won?", "Who won? ", "Who won? ", "001-Super_Bowl_50")
    assert (s2.raw_question, s2.verbatim_question) == ("", "Where?")
    lines = read_qa_file(_jsonl(tmp_path / "qa.jsonl", {"question": "  VPN? "}, {"user_input": "Port?\n"}))
    assert [(r.question, r.verbatim_question) for r in lines.records] == [("VPN?", "  VPN? "), ("Port?", "Port?\n")]
    assert lines.articles == ()
