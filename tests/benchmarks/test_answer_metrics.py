"""Answer metrics of benchmarks/bench_answer.py on hand-computed examples."""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchmarks.answer_metrics import (
    exact_match,
    f1,
    gold_in_answer,
    normalize_en,
    normalize_ja,
    percentile,
    score_answer,
    scoring_lang,
    strip_citations,
    summarize_records,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("Ten days [1].", "Ten days."),
    ("10日です［１］【2】", "10日です"),
    ("A [1, 2] and B [1-3]", "A and B"),
    ("founded in [2024]", "founded in [2024]"),  # 4 digits: a year, not a citation
    ("no markers", "no markers"),
])
def test_strip_citations(text: str, expected: str) -> None:
    assert strip_citations(text) == expected


def test_normalize_en_is_squad_normalisation_without_citations() -> None:
    assert normalize_en("The Denver Broncos [1]!") == "denver broncos"
    assert normalize_en("  an  Apple,  a pear ") == "apple pear"
    assert normalize_en("10,300,000 yen") == "10300000 yen"


def test_normalize_ja_drops_width_spaces_and_punctuation() -> None:
    assert normalize_ja("１０日　です。[1]") == "10日です"
    assert normalize_ja("「小笠原諸島」、ＡＢＣ") == "小笠原諸島abc"


def test_token_f1_hand_computed() -> None:
    # pred tokens {denver, broncos, won}, gold {denver, broncos}: P = 2/3, R = 1 -> F1 = 0.8
    assert f1("the Denver Broncos won [1]", "Denver Broncos", "en") == pytest.approx(0.8)
    # multiset overlap: x x y vs x y y -> 2 shared, P = R = 2/3
    assert f1("x x y", "x y y", "en") == pytest.approx(2 / 3)
    assert f1("cats", "dogs", "en") == 0.0
    assert f1("", "", "en") == 1.0 and f1("the", "dogs", "en") == 0.0  # "the" normalises to nothing


def test_char_f1_hand_computed() -> None:
    # 7 chars vs 5 chars, all 5 shared: P = 5/7, R = 1 -> F1 = 10/12
    assert f1("小笠原諸島です。", "小笠原諸島", "ja") == pytest.approx(10 / 12)
    # 10日 vs 40日: shared {0, 日} = 2 of 3 each -> 2/3
    assert f1("40日", "１０日", "ja") == pytest.approx(2 / 3)


def test_exact_match() -> None:
    assert exact_match("Denver Broncos. [2]", "the denver broncos", "en") == 1.0
    assert exact_match("Denver", "Denver Broncos", "en") == 0.0
    assert exact_match("１０日［１］", "10日", "ja") == 1.0


def test_gold_in_answer_whole_tokens_for_english_substring_for_japanese() -> None:
    assert gold_in_answer("It costs 100 yen.", "10", "en") == 0.0
    assert gold_in_answer("It costs 100 yen.", "100 Yen", "en") == 1.0
    assert gold_in_answer("年次有給休暇は10日です。[1]", "１０日", "ja") == 1.0
    assert gold_in_answer("anything", "", "en") == 0.0


def test_scoring_lang_follows_question_or_gold_script() -> None:
    assert scoring_lang("ja", ["5000000"]) == "ja"
    assert scoring_lang("en", ["小笠原諸島"]) == "ja"
    assert scoring_lang("en", ["10300000"]) == "en"


def test_score_answer_takes_the_best_gold_and_zeroes_refusals() -> None:
    s = score_answer("Denver Broncos", ["Broncos", "Denver Broncos"], "en", refused=False)
    assert s == {"em": 1.0, "f1": 1.0, "gold_in": 1.0}
    assert score_answer("Denver Broncos", ["Denver Broncos"], "en", refused=True) == {"em": 0.0, "f1": 0.0, "gold_in": 0.0}


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert math.isnan(percentile([], 50))


def _rec(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"answerable": True, "golds": ["Denver Broncos"], "lang": "en", "text": "",
                            "refused": False, "refusal_reason": None, "citations": [], "invalid_citations": 0,
                            "gold_source": "a.txt", "context_sources": ["a.txt"],
                            "timings": {"first_token": 1.0, "total": 2.0}, "rss_mb": 100.0}
    base.update(kw)
    return base


def test_summarize_records_hand_computed() -> None:
    records = [
        # right answer citing the gold document
        _rec(text="The Denver Broncos [1].", citations=[{"source": "a.txt"}], timings={"first_token": 1.0, "total": 2.0}),
        # a sentence containing the answer, citing another document, one invalid marker
        _rec(text="It was the Denver Broncos who won.", citations=[{"source": "b.txt"}], invalid_citations=1,
             timings={"first_token": 3.0, "total": 4.0}, rss_mb=300.0),
        # false refusal by RAG before generation (no TTFT), gold not retrieved
        _rec(text="I don't know.", refused=True, refusal_reason="low_relevance:0.7<0.8", context_sources=["c.txt"],
             timings={"first_token": 0.0, "total": 0.5}),
        # unanswerable, refused by the generator
        _rec(answerable=False, golds=[], gold_source=None, text="I don't know.", refused=True,
             refusal_reason="generator_refused", timings={"first_token": 5.0, "total": 6.0}),
    ]
    s = summarize_records(records)
    assert (s["n"], s["n_answerable"], s["n_unanswerable"]) == (4, 3, 1)
    assert s["em"] == pytest.approx(1 / 3)  # only the first is exact
    # F1: 1; "it was denver broncos who won" has 6 tokens, 2 shared: P = 2/6, R = 1 -> 0.5; refused 0
    assert s["f1"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert s["gold_in"] == pytest.approx(2 / 3)
    assert s["supported"] == pytest.approx(1 / 3)  # the second holds the answer but cites b.txt
    assert s["ctx_gold"] == pytest.approx(2 / 3)
    assert s["cite_valid"] == pytest.approx(1 / 2)  # two non-refused answers, one with an invalid marker
    assert s["cite_gold"] == pytest.approx(1 / 2)
    assert s["refusal_unanswerable"] == 1.0
    assert s["false_refusal"] == pytest.approx(1 / 3)
    assert s["ttft_p50"] == 3.0  # over 1, 3, 5: RAG's own refusal generated nothing
    assert s["total_p50"] == pytest.approx(3.0)  # 0.5, 2, 4, 6
    assert s["peak_rss_mb"] == 300.0
    assert math.isnan(summarize_records([_rec(answerable=False, golds=[])])["em"])
