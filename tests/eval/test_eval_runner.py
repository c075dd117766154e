"""eval.run over a real index (docs_corpus, hashing embedder): stored traces, resuming, keys,
crash safety, failing systems, and the offline ragas metrics with the network blocked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval import runner
from eval.answering import RagSystem
from eval.store import latest_by_key, read_manifest
from rag_app import Answer


def _answers(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {p.stem: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]
            for p in sorted((out / "answers").glob("*.jsonl"))}


def test_run_stores_a_trace_per_question_and_system(run_dir: Path) -> None:
    manifest = read_manifest(run_dir)
    assert [s["label"] for s in manifest["systems"]] == ["extractive", "extractive[top_k=2]"]
    files = _answers(run_dir)
    assert len(files) == 2 and all(len(recs) == 10 for recs in files.values())
    rec = next(iter(files.values()))[0]
    answer = Answer.from_dict(rec["answer"])  # the full trace round-trips
    assert answer.settings["template_version"] and rec["key"] in manifest["plan"][rec["system"]].values()
    small = next(recs for name, recs in files.items() if name.startswith("extractive_top_k_2"))
    assert all(len(Answer.from_dict(r["answer"]).retrieved) <= 2 for r in small)
    assert manifest["dataset"]["questions_run"] == 10 and manifest["metadata"]["git_sha"]


def test_rerun_skips_what_is_done_and_new_settings_rerun(run_config: Any, hashing_index: Path, qa_sample: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = runner.run(run_config(qa_sample, out, hashing_index, limit=4, metrics=()))
    assert (first.answered, first.skipped) == (4, 0)
    again = runner.run(run_config(qa_sample, out, hashing_index, limit=4, metrics=()))
    assert (again.answered, again.skipped) == (0, 4)
    bigger = runner.run(run_config(qa_sample, out, hashing_index, limit=6, metrics=()))
    assert (bigger.answered, bigger.skipped) == (2, 4)  # a bigger limit contains the smaller one
    other = runner.run(run_config(qa_sample, out, hashing_index, ("extractive[name=extractive,top_k=3]",), limit=4,
                                  metrics=()))
    assert (other.answered, other.skipped) == (4, 0)  # same label, another setting: another key


def test_a_crash_loses_nothing_already_answered(run_config: Any, hashing_index: Path, qa_sample: Path,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    real = RagSystem.answer
    calls = {"n": 0}

    def dies_on_the_fourth(self: RagSystem, q: Any) -> Answer:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # a kill between questions
        return real(self, q)

    monkeypatch.setattr(RagSystem, "answer", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        runner.run(run_config(qa_sample, out, hashing_index, metrics=()))
    assert len(next(iter(_answers(out).values()))) == 3
    monkeypatch.setattr(RagSystem, "answer", real)
    resumed = runner.run(run_config(qa_sample, out, hashing_index, metrics=()))
    assert (resumed.answered, resumed.skipped) == (7, 3)


def test_a_failing_system_is_stopped_and_recorded(run_config: Any, hashing_index: Path, qa_sample: Path,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(self: RagSystem, q: Any) -> Answer:
        raise ConnectionError("server at http://127.0.0.1:9 is down")

    monkeypatch.setattr(RagSystem, "answer", down)
    result = runner.run(run_config(qa_sample, tmp_path / "out", hashing_index, metrics=()))
    assert result.answered == 0 and len(result.errors) == runner.MAX_FAILURES_IN_A_ROW
    assert "ConnectionError: server at http://127.0.0.1:9 is down" in result.errors[0]
    assert result.notes[-1].startswith("extractive: stopped after 3 failures in a row")
    recs = next(iter(_answers(tmp_path / "out").values()))
    assert [r["answer"] for r in recs] == [None] * 3 and recs[0]["error"].startswith("ConnectionError")


def test_input_errors_come_before_any_work(run_config: Any, hashing_index: Path, qa_sample: Path, tmp_path: Path) -> None:
    from eval.systems import SystemSpecError

    out = tmp_path / "out"
    with pytest.raises(SystemSpecError, match="unknown system 'nope'"):
        runner.run(run_config(qa_sample, out, hashing_index, ("extractive", "nope")))
    with pytest.raises(ValueError, match="ragas_faithfulness need an LLM judge and none is configured"):
        runner.run(run_config(qa_sample, out, hashing_index, metrics=("ragas_faithfulness",)))
    with pytest.raises(ValueError, match=r"unknown ragas metrics \['ragas_rouge'\]; allowed: ragas_id_context_precision"):
        runner.run(run_config(qa_sample, out, hashing_index, metrics=("ragas_rouge",)))
    assert not out.exists()


@pytest.mark.network_blocked
def test_offline_ragas_metrics_with_the_network_blocked(run_config: Any, hashing_index: Path, qa_sample: Path,
                                                        tmp_path: Path) -> None:
    from eval.ragas_scoring import OFFLINE_METRICS

    out = tmp_path / "out"
    result = runner.run(run_config(qa_sample, out, hashing_index, limit=6))
    assert result.scored == 6 and result.score_failures == 0
    scores = [r["scores"] for r in latest_by_key(next((out / "scores").glob("*.jsonl"))).values()]
    assert all(set(s) == set(OFFLINE_METRICS) for s in scores)
    answerable = [s for s in scores if s["ragas_chrf"] is not None]
    assert answerable and all(0.0 <= s["ragas_chrf"] <= 1.0 for s in answerable)
    assert any(s["ragas_chrf"] is None and s["ragas_id_context_recall"] is None for s in scores)  # unanswerable
    assert read_manifest(out)["scoring"]["judge"] is None


def test_python_api_keywords(hashing_index: Path, qa_sample: Path, tmp_path: Path) -> None:
    import eval

    result = eval.run(dataset=str(qa_sample), systems="extractive,extractive[name=top2,top_k=2]",
                      out_dir=str(tmp_path / "out"), index_dir=str(hashing_index), embedder="hashing", limit=2,
                      metrics=[], progress=False)
    assert result.answered == 4
    assert [s.label for s in eval.load_run(tmp_path / "out").systems] == ["extractive", "top2"]
    with pytest.raises(TypeError, match="give a RunConfig or keyword fields, not both"):
        eval.run(runner.RunConfig(dataset=qa_sample, systems=("extractive",), out_dir=tmp_path), limit=1)
