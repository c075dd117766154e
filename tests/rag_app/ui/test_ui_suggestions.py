from __future__ import annotations

import json
import os
from pathlib import Path

from rag_app import DocumentInfo, Filters
from rag_app.qa_file import read_qa_file
from rag_app.ui.suggestions import (
    QUESTIONS_FILE,
    QuestionBook,
    SampleQuestion,
    pick_suggestions,
    sample_questions,
)


def _doc(source: str, groups: tuple[str, ...] = ("public",), root: str = "/docs", date: str | None = None) -> DocumentInfo:
    return DocumentInfo(doc_id=source, source=source, root=root, file_type=source.rsplit(".", 1)[1], groups=groups,
                        title=None, date=date, chunks=1, size_bytes=1, indexed_at="2026-01-01T00:00:00")


def _q(source: str, question: str, lang: str = "en") -> SampleQuestion:
    return SampleQuestion(question=question, root="/docs", sources=(source,), lang=lang)


def test_only_answerable_questions_that_name_their_documents_are_offered(tmp_path: Path) -> None:
    rows = [{"question": "How many days?", "answer": "10", "source": "hr/leave.md", "lang": "en"},
            {"question": "Unanswerable?", "source": "hr/leave.md", "answerable": False},
            {"question": "Whose is this?", "answer": "x", "source": None},
            {"question": "x" * 500, "answer": "x", "source": "hr/leave.md"},
            {"source": "hr/leave.md"}]
    path = tmp_path / QUESTIONS_FILE
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n[1, 2]\n", encoding="utf-8")
    assert sample_questions(read_qa_file(path, fmt="qa").records, "/docs") == [
        SampleQuestion("How many days?", "/docs", ("hr/leave.md",), "en")]


def test_a_question_about_several_documents_needs_every_one_visible() -> None:
    q = SampleQuestion("Compare them?", "/docs", ("hr/a.md", "hr/secret.md"), "en")
    assert pick_suggestions([q], [_doc("hr/a.md")]) == []
    assert pick_suggestions([q], [_doc("hr/a.md"), _doc("hr/secret.md", ("hr",))]) == [q]


def test_the_pick_is_of_visible_documents_spread_over_folders_and_deterministic() -> None:
    qs = [_q("hr/a.md", "A1"), _q("hr/a.md", "A2"), _q("hr/b.md", "B1"), _q("it/c.md", "C1"),
          _q("hr/secret.md", "S1"), _q("it/gone.md", "G1"), _q("it/c.md", "A1")]
    visible = [_doc("hr/a.md"), _doc("hr/b.md"), _doc("it/c.md")]  # secret.md not theirs, gone.md not indexed
    picked = [q.question for q in pick_suggestions(qs, visible, n=10)]
    assert picked == ["A1", "C1", "B1", "A2"]  # first document of each folder, then the second ones
    assert [q.question for q in pick_suggestions(qs, visible, n=2)] == ["A1", "C1"]
    assert pick_suggestions(qs, [_doc("hr/a.md", root="/other")]) == []  # same path, another ingested folder


def test_the_pick_keeps_inside_the_filters() -> None:
    qs = [_q("hr/a.md", "A1"), _q("it/c.pdf", "C1", lang="ja")]
    visible = [_doc("hr/a.md", date="2026-04-01"), _doc("it/c.pdf")]
    assert [q.question for q in pick_suggestions(qs, visible, Filters(source_prefix="it"))] == ["C1"]
    assert [q.question for q in pick_suggestions(qs, visible, Filters(file_types=("md",)))] == ["A1"]
    assert [q.question for q in pick_suggestions(qs, visible, Filters(langs=("ja",)))] == ["C1"]
    assert [q.question for q in pick_suggestions(qs, visible, Filters(date_from="2026-01-01"))] == ["A1"]
    assert pick_suggestions(qs, visible, Filters(date_to="2026-03-31")) == []


def test_the_book_reads_the_ingested_folders_questions_again_when_they_change(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    path = root / QUESTIONS_FILE
    path.write_text(json.dumps({"question": "Q1", "answer": "A", "source": "a.md"}) + "\n", encoding="utf-8")
    book, visible = QuestionBook(), [_doc("a.md", root=str(root))]
    assert [q.question for q in book.suggest(visible)] == ["Q1"]
    path.write_text(json.dumps({"question": "Q2?", "answer": "A", "source": "a.md"}) + "\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert [q.question for q in book.suggest(visible)] == ["Q2?"]
    path.unlink()
    assert book.suggest(visible) == []
