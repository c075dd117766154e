"""Refusal text, spotting a generator's own refusal, and threshold calibration."""

from __future__ import annotations

import math

import pytest

from rag_app.refusal import (
    balanced_accuracy,
    calibrate_threshold,
    is_refusal_text,
    refusal_message,
    should_refuse,
)


def test_refusal_messages() -> None:
    assert refusal_message("en") == "I don't know based on the provided documents."
    assert refusal_message("ja") == "提供された資料からは分かりません。"
    with pytest.raises(ValueError, match="lang='de'"):
        refusal_message("de")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("I don't know based on the provided documents.", "en"),
        ("I do not know.", "en"),
        ("Sorry. I cannot find that information in the documents.", "en"),
        ("The provided documents do not mention a parking policy.", "en"),
        ("That is not stated in the provided context.", "en"),
        ("There is not enough information to answer this question.", "en"),
        ("I'm unable to determine the answer from these sources.", "en"),
        ("提供された資料からは分かりません。", "ja"),
        ("申し訳ありません。資料には記載されていません。", "ja"),
        ("その情報は見つかりません。", "ja"),
        ("社員食堂に関する情報がありません。", "ja"),
        ("わかりません", "ja"),
        ("提供された資料からは分かりません。", "en"),  # wrong-language refusal still counts
        ("", "en"),
    ],
)
def test_refusals_are_detected(text: str, lang: str) -> None:
    assert is_refusal_text(text, lang)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Full-time employees receive 20 days of paid leave per year [1].", "en"),
        ("Employees get 20 days [1]. The documents do not mention carry-over for contractors.", "en"),
        ("You can find the form on the intranet under HR > Leave [2].", "en"),
        ("年次有給休暇は、入社6か月後に10日付与されます[1]。", "ja"),
        ("申請は3営業日前までです[1]。繰越については記載されていません。", "ja"),
    ],
)
def test_answers_are_not_refusals(text: str, lang: str) -> None:
    assert not is_refusal_text(text, lang)


def test_should_refuse() -> None:
    assert should_refuse([], 0.5)
    assert should_refuse([0.2, 0.49], 0.5)
    assert not should_refuse([0.2, 0.5], 0.5)
    assert not should_refuse([0.9], 0.5)


def test_calibrate_separable_scores_lands_in_the_gap() -> None:
    pos = [0.81, 0.85, 0.9, 0.88]
    neg = [0.7, 0.74, 0.76]
    t = calibrate_threshold(pos, neg)
    assert t == pytest.approx((0.76 + 0.81) / 2)
    assert balanced_accuracy(pos, neg, t) == 1.0
    assert all(not should_refuse([p], t) for p in pos)
    assert all(should_refuse([n], t) for n in neg)


def test_calibrate_maximises_balanced_accuracy() -> None:
    pos = [0.5, 0.6, 0.7, 0.8]
    neg = [0.1, 0.2, 0.4]
    t = calibrate_threshold(pos, neg)
    assert balanced_accuracy(pos, neg, t) == pytest.approx(1.0)  # 0.45 separates them
    assert 0.4 < t < 0.5

    pos2 = [0.3, 0.6, 0.7, 0.8]
    neg2 = [0.1, 0.2, 0.65]
    t2 = calibrate_threshold(pos2, neg2)
    best = max(balanced_accuracy(pos2, neg2, c) for c in [0.0, 0.15, 0.25, 0.45, 0.625, 0.675, 0.75, 0.9])
    assert balanced_accuracy(pos2, neg2, t2) == pytest.approx(best)
    # 0.25 (tpr 1, tnr 2/3) and 0.675 (tpr 2/4, tnr 1) give 0.833 and 0.75: 0.25 wins
    assert t2 == pytest.approx(0.25)


def test_calibrate_prefers_the_widest_gap_among_ties() -> None:
    # Every cut between 0.3 and 0.7 is perfect; the widest gap is 0.4..0.6 -> 0.5.
    pos = [0.6, 0.7]
    neg = [0.3, 0.4]
    assert calibrate_threshold(pos, neg) == pytest.approx(0.5)


def test_calibrate_inverted_scores_still_returns_a_threshold() -> None:
    t = calibrate_threshold([0.1, 0.2], [0.8, 0.9])
    assert balanced_accuracy([0.1, 0.2], [0.8, 0.9], t) == 0.5
    assert math.isfinite(t)


def test_calibrate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="neg_scores is empty"):
        calibrate_threshold([0.5], [])
    with pytest.raises(ValueError, match="NaN"):
        calibrate_threshold([0.5, float("nan")], [0.1])


def test_refusal_reasons_in_words() -> None:
    from rag_app.refusal import explain_refusal

    assert "never mention (not found: zephyrin, bonus)" in explain_refusal("unsupported_terms:0.9>0.45:zephyrin,bonus")
    assert "scores 0.71, below the 0.80" in explain_refusal("low_relevance:0.71<0.80")
    assert "Nothing relevant was found" in explain_refusal("no_hits")
    assert "no passage found names American Express" in explain_refusal("name_not_found:American Express")
    assert "none covers or mentions 2015, 2016" in explain_refusal("period_not_found:2015,2016")
    assert "model read them" in explain_refusal("generator_refused")
    assert "planted" in explain_refusal("answer_followed_injection")
