"""The judged ragas metrics wired to a real OpenAI-compatible server on 127.0.0.1: llama.cpp's
server with the bundled SmolLM2 (the fixture of tests/rag_app/generators/test_openai_server.py).
Wiring, not quality: every judged score is either a number or a counted failure, and no request
goes to OpenAI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ragas", reason="pip install 'ragqa[eval]'")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag_app" / "generators"))

from test_openai_server import SERVER_KEY, llama_server  # noqa: F401  (the one llama.cpp server fixture)

from eval import runner
from eval.report import write_report
from eval.store import latest_by_key

pytestmark = [pytest.mark.server, pytest.mark.slow]
JUDGED = ("ragas_faithfulness", "ragas_factual_correctness")


def test_judged_metrics_against_a_llama_cpp_server(llama_server: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                                   run_config: Any, hashing_index: Path, qa_sample: Path,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("RAGQA_JUDGE_API_KEY", SERVER_KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "out"
    result = runner.run(run_config(qa_sample, out, hashing_index, limit=2, judge=f"openai-compatible:smollm2@{llama_server}",
                                   metrics=(*JUDGED, "ragas_chrf")))
    assert result.scored == 2
    recs = list(latest_by_key(next((out / "scores").glob("*.jsonl"))).values())
    judged = 0
    for rec in recs:
        for m in JUDGED:
            if rec["scores"][m] is not None:
                judged += 1
                assert 0.0 <= rec["scores"][m] <= 1.0
            elif m in rec["failures"]:
                judged += 1
                assert "openai.com" not in rec["failures"][m] and "OPENAI_API_KEY" not in rec["failures"][m]
    assert judged >= 1  # at least one answered question went to the judge
    assert result.score_failures == sum(len(r["failures"]) for r in recs)
    page = write_report(out).markdown.read_text(encoding="utf-8")
    assert f"judge: openai-compatible:smollm2@{llama_server}" in page and "ragas failures (judge / metric)" in page


def test_a_wrong_key_is_refused_before_scoring(llama_server: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                                run_config: Any, hashing_index: Path, qa_sample: Path,
                                                tmp_path: Path) -> None:
    from eval.judge import JudgeError

    monkeypatch.setenv("RAGQA_JUDGE_API_KEY", "not-the-key")
    with pytest.raises(JudgeError, match=r"refused the key \(HTTP 401\): set RAGQA_JUDGE_API_KEY"):
        runner.run(run_config(qa_sample, tmp_path / "out", hashing_index, limit=1,
                              judge=f"openai-compatible:smollm2@{llama_server}", metrics=JUDGED))
