"""ragqa eval compare: paired bootstrap between two run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval import runner
from eval.compare import compare_runs, render_comparison


def test_a_run_against_itself_changes_nothing(run_dir: Path) -> None:
    c = compare_runs(run_dir, run_dir)
    assert c.systems == ("extractive", "extractive[top_k=2]") and c.questions == ()
    assert c.metrics and all(m.diff.delta == 0 and m.verdict == "no significant change" for m in c.metrics
                             if not m.metric.endswith("_s"))


def test_two_settings_compared_by_label(run_config: Any, hashing_index: Path, qa_sample: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    runner.run(run_config(qa_sample, a, hashing_index, ("extractive[name=x,top_k=1]",), metrics=()))
    runner.run(run_config(qa_sample, b, hashing_index, ("extractive[name=x,top_k=5]",), metrics=()))
    c = compare_runs(a, b)
    hit = next(m for m in c.metrics if m.metric == "hit@k")
    assert hit.diff.n == 7 and hit.b >= hit.a and 0.0 <= hit.diff.p_value <= 1.0
    assert hit.diff.lo <= hit.diff.delta <= hit.diff.hi
    text = render_comparison(c)
    assert "| x | gold doc hit@k |" in text and "## Questions that changed" in text
    assert c.to_dict()["metrics"][0]["system"] == "x"
