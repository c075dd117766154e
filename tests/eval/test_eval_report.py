"""The report of a real run folder: self-contained HTML with embedded plots, Markdown, CSV, JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="pip install 'ragqa[eval]'")

from eval import plots
from eval.report import write_report
from eval.summary import load_run, regression_order, summary_table


def test_report_files(run_dir: Path, tmp_path: Path) -> None:
    files = write_report(run_dir, dest=tmp_path)
    page = files.html.read_text(encoding="utf-8")
    assert page.count("src='data:image/png;base64,") >= 4  # bars, accuracy/latency, language, topic, refusal
    assert "http" not in page.split("<body>", 1)[1].split("Questions, worst regressions")[0]  # nothing to fetch
    assert "入社6か月後に付与される年次有給休暇は何日ですか？" in page and "hr/leave_policy_ja.pdf" in page
    md = files.markdown.read_text(encoding="utf-8")
    assert "## Summary (value [95 % bootstrap interval] n)" in md and "| answer holds gold (answer) |" in md
    assert "harness overhead extractive" in md and "chrf (ragas (offline))" in md
    rows = list(csv.DictReader(files.csv.open(encoding="utf-8")))
    assert {r["system"] for r in rows} == {"extractive", "extractive[top_k=2]"}
    gold_in = next(r for r in rows if r["system"] == "extractive" and r["metric"] == "gold_in")
    assert int(gold_in["n"]) == 7 and float(gold_in["lo"]) <= float(gold_in["value"]) <= float(gold_in["hi"])
    data = json.loads(files.json.read_text(encoding="utf-8"))
    assert set(data["per_question"]) == {"q001", "q002", "q009", "q018", "q040", "q041", "q060", "q061", "q090", "q100"}
    assert data["summary"]["extractive"]["refusal_unanswerable"]["n"] == 3


def test_summary_numbers_match_the_stored_answers(run_dir: Path) -> None:
    from eval.metrics import gold_in_answer, scoring_lang

    run = load_run(run_dir)
    s = run.systems[0]
    by_qid = run.by_qid
    answerable = [q for q in run.questions if q.answerable]
    expected = sum(0.0 if s.answers[q.qid].refused else
                   max(gold_in_answer(s.answers[q.qid].text, g, scoring_lang(q.lang, q.golds)) for g in q.golds)
                   for q in answerable) / len(answerable)
    assert summary_table(run)[s.label]["gold_in"].value == pytest.approx(expected)
    order = regression_order(run)
    assert {q.qid for q, _ in order} == set(by_qid) and [d for _, d in order] == sorted(d for _, d in order)


def test_the_report_says_why_when_no_cjk_font(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    page = write_report(run_dir, dest=tmp_path).html.read_text(encoding="utf-8")
    assert "No CJK font was found, so Japanese text in the plots renders as boxes: apt-get install fonts-noto-cjk" in page


def test_a_cjk_font_is_used_when_installed() -> None:
    font = plots.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    png = plots.grouped_bars({"s": {}}, "年次有給休暇", font)
    assert png.startswith(b"\x89PNG")


def test_unknown_baseline_is_refused(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"baseline 'nope' is not a system of this run; allowed: \['extractive'"):
        write_report(run_dir, baseline="nope", dest=tmp_path)
