"""eval.metrics additions (the moved metrics are pinned by tests/benchmarks/test_answer_metrics.py
through the benchmarks' re-export) and eval.retrieval_metrics on hand-computed examples."""

from __future__ import annotations

import math

import pytest

import benchmarks.answer_metrics as bench
import eval.metrics as m
from eval.retrieval_metrics import dedupe, hit_at, ndcg_at, recall_at, reciprocal_rank


def test_benchmarks_reexport_the_eval_functions() -> None:
    assert bench.f1 is m.f1 and bench.summarize_records is m.summarize_records


@pytest.mark.parametrize(("answer", "lang", "expected"), [
    ("年次有給休暇は10日です [1]", "ja", 1.0),
    ("Employees get 10 days [1].", "ja", 0.0),  # an English answer to a Japanese question
    ("Employees get 10 days [1].", "en", 1.0),
    ("10 [1]", "ja", 1.0),  # no letters: either language
    ("社員は10日", "en", 0.0),
])
def test_language_matches(answer: str, lang: str, expected: float) -> None:
    assert m.language_matches(answer, lang) == expected


def test_answer_lang_ignores_citation_markers() -> None:
    assert m.answer_lang("［１］ VPN") == "en" and m.answer_lang("VPNの設定 [2]") == "ja"


def test_retrieval_metrics_hand_computed() -> None:
    ranked = dedupe(["a", "g", "a", "b", "h"])
    assert ranked == ["a", "g", "b", "h"]
    assert hit_at(ranked, {"g"}, 1) == 0.0 and hit_at(ranked, {"g"}, 2) == 1.0
    assert recall_at(ranked, {"g", "h", "z"}, 4) == pytest.approx(2 / 3)
    assert reciprocal_rank(ranked, {"g", "h"}, 4) == 0.5 and reciprocal_rank(ranked, {"g"}, 1) == 0.0
    # gold at ranks 2 and 4 of 2 gold ids: DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    assert ndcg_at(ranked, {"g", "h"}, 4) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert ndcg_at(["g"], {"g"}, 10) == 1.0


def test_retrieval_metrics_need_gold_ids() -> None:
    with pytest.raises(ValueError, match="no gold ids"):
        hit_at(["a"], set(), 1)
    with pytest.raises(ValueError, match="k=0 must be >= 1"):
        ndcg_at(["a"], {"a"}, 0)
