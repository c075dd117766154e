"""ragqa eval run / report / compare through the CLI, as a user runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rag_app.cli import app


def _invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output


def test_run_report_compare(hashing_index: Path, qa_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, text = _invoke("eval", "run", "--dataset", str(qa_sample), "--systems", "extractive", "--out", str(out),
                         "--index", str(hashing_index), "--embedder", "hashing", "--limit", "3", "--metrics", "")
    assert code == 0, text
    assert "3 answered, 0 already stored, 0 failed" in text and f"report: {out / 'report.html'}" in text
    code, text = _invoke("eval", "run", "--dataset", str(qa_sample), "--systems", "extractive", "--out", str(out),
                         "--index", str(hashing_index), "--embedder", "hashing", "--limit", "3", "--metrics", "",
                         "--no-report")
    assert code == 0 and "0 answered, 3 already stored" in text
    code, text = _invoke("eval", "report", str(out))
    assert code == 0 and text.splitlines()[0] == str(out / "report.html")
    code, text = _invoke("eval", "compare", str(out), str(out), "--json")
    assert code == 0 and '"systems": ["extractive"]' in text


def test_input_errors_exit_2_with_the_fix(qa_sample: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n", encoding="utf-8")
    cases = [
        (["--dataset", str(bad), "--systems", "extractive"], f"error: {bad}: no usable question (1 bad lines; {bad}:1"),
        (["--dataset", str(qa_sample), "--systems", "rag:smollm2,retrieve-all"], "error: bad system 'retrieve-all'"),
        (["--dataset", str(qa_sample), "--systems", "ft:/no/adapter"], "adapter directory /no/adapter does not exist"),
        (["--dataset", str(qa_sample), "--systems", "extractive", "--judge", "openai-compatible:m@http://127.0.0.1:9/v1"],
         "error: judge openai-compatible:m@http://127.0.0.1:9/v1 is unreachable at http://127.0.0.1:9/v1"),
        (["--dataset", str(qa_sample), "--systems", "extractive", "--judge", "gpt-4o"], "error: bad judge 'gpt-4o'"),
    ]
    for args, message in cases:
        code, text = _invoke("eval", "run", *args, "--out", str(tmp_path / "o"))
        assert code == 2 and message in text, text
    code, text = _invoke("eval", "report", str(tmp_path))
    assert code == 2 and "is not an evaluation run folder (no run.json)" in text


def test_help_lists_eval() -> None:
    code, text = _invoke("--help")
    assert code == 0 and "eval" in text
