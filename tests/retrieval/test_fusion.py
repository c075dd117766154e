"""Reciprocal rank fusion against hand-computed scores."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrieval.fusion import cross_language_credit, reciprocal_rank_fusion


def test_hand_computed_example() -> None:
    # k = 60, ranks 1-based.
    #   dense = [a, b, c]     bm25 = [b, d, a]
    #   a: 1/(60+1) + 1/(60+3) = 0.0163934 + 0.0158730 = 0.0322664
    #   b: 1/(60+2) + 1/(60+1) = 0.0161290 + 0.0163934 = 0.0325225
    #   c: 1/(60+3)            = 0.0158730
    #   d: 1/(60+2)            = 0.0161290
    # => b > a > d > c
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]])
    assert [doc for doc, _ in fused] == ["b", "a", "d", "c"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(0.0325225, abs=1e-7)
    assert scores["a"] == pytest.approx(0.0322664, abs=1e-7)
    assert scores["d"] == pytest.approx(0.0161290, abs=1e-7)
    assert scores["c"] == pytest.approx(0.0158730, abs=1e-7)


def test_weights_change_the_order() -> None:
    # Same lists, weights (1.0, 0.5):
    #   a: 1/61 + 0.5/63 = 0.0163934 + 0.0079365 = 0.0243300
    #   b: 1/62 + 0.5/61 = 0.0161290 + 0.0081967 = 0.0243258
    #   c: 1/63          = 0.0158730
    #   d: 0.5/62        = 0.0080645
    # => a > b > c > d (a overtakes b once the second list counts half)
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]], weights=[1.0, 0.5])
    assert [doc for doc, _ in fused] == ["a", "b", "c", "d"]
    assert dict(fused)["a"] == pytest.approx(0.0243300, abs=1e-7)
    assert dict(fused)["d"] == pytest.approx(0.0080645, abs=1e-7)


def test_custom_k() -> None:
    # k = 1: x = 1/2 + 1/3 = 0.8333333, y = 1/3 + 1/2 = 0.8333333, z = 1/4 = 0.25
    fused = reciprocal_rank_fusion([["x", "y", "z"], ["y", "x"]], k=1)
    assert dict(fused) == pytest.approx({"x": 5 / 6, "y": 5 / 6, "z": 0.25})


def test_duplicates_count_once_at_best_rank() -> None:
    # list 1 = [a, b, a]: a counts once at rank 1 (not 1/61 + 1/63); list 2 = [a].
    #   a: 1/61 + 1/61 = 0.0327869;  b: 1/62 = 0.0161290
    fused = reciprocal_rank_fusion([["a", "b", "a"], ["a"]])
    assert fused == [("a", pytest.approx(2 / 61)), ("b", pytest.approx(1 / 62))]


def test_empty_inputs() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []
    assert reciprocal_rank_fusion([[], ["x"]]) == [("x", pytest.approx(1 / 61))]


def test_ties_broken_by_best_rank_then_id() -> None:
    # k = 1, weights (1, 1.5):
    #   c = 1.5/(1+1) = 0.75;  b = 1/(1+1) = 0.5 (best rank 1);  a = 1.5/(1+2) = 0.5 (best rank 2)
    # b and a tie exactly (0.5 in floating point too): b wins on best rank although "a" < "b".
    fused = reciprocal_rank_fusion([["b"], ["c", "a"]], k=1, weights=[1.0, 1.5])
    assert fused == [("c", 0.75), ("b", 0.5), ("a", 0.5)]
    # Same score and same best rank: by id.
    assert [doc for doc, _ in reciprocal_rank_fusion([["q"], ["p"]])] == ["p", "q"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 0}, ValueError, "k must be"),
        ({"k": -5}, ValueError, "k must be"),
        ({"k": math.nan}, ValueError, "k must be"),
        ({"weights": [1.0]}, ValueError, "1 weights for 2 rankings"),
        ({"weights": [1.0, -0.1]}, ValueError, r"weights\[1\] = -0.1"),
        ({"weights": [1.0, math.inf]}, ValueError, r"weights\[1\]"),
    ],
)
def test_argument_validation(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        reciprocal_rank_fusion([["a"], ["b"]], **kwargs)  # type: ignore[arg-type]


def test_string_instead_of_lists_rejected() -> None:
    with pytest.raises(TypeError, match="sequence of id lists"):
        reciprocal_rank_fusion(["abc", "bcd"])


ids = st.lists(st.sampled_from(list("abcdefghij")), max_size=8)


@given(st.lists(ids, max_size=4), st.integers(1, 100))
def test_properties(rankings: list[list[str]], k: int) -> None:
    fused = reciprocal_rank_fusion(rankings, k=k)
    assert {d for d, _ in fused} == {d for r in rankings for d in r}
    assert len(fused) == len({d for d, _ in fused})
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    # Each score is bounded by one 1/(k+1) per list that contains the doc.
    for doc, s in fused:
        assert 0 < s <= sum(1 for r in rankings if doc in r) / (k + 1) + 1e-12
    # Fusing one list returns it deduplicated, in order.
    if rankings:
        assert [d for d, _ in reciprocal_rank_fusion([rankings[0]], k=k)] == list(dict.fromkeys(rankings[0]))


def test_imputed_ranks_fill_a_blind_retrievers_gap() -> None:
    # dense: [ja1, en1]; bm25: [en1]. bm25 is blind to the Japanese chunk ja1, so it is credited
    # at its dense rank 1 in the bm25 list too:
    #   ja1 = 1/(60+1) + 1/(60+1) = 0.0327869   en1 = 1/(60+2) + 1/(60+1) = 0.0325197
    fused = reciprocal_rank_fusion([["ja1", "en1"], ["en1"]], k=60, imputed={1: {"ja1": 1}})
    assert [d for d, _ in fused] == ["ja1", "en1"]
    assert fused[0][1] == pytest.approx(2 / 61)
    assert fused[1][1] == pytest.approx(1 / 62 + 1 / 61)
    # without imputation en1 wins: it is in both lists
    assert reciprocal_rank_fusion([["ja1", "en1"], ["en1"]], k=60)[0][0] == "en1"
    # an imputed id that no list returned is not invented; an id the list has keeps its real rank
    fused = reciprocal_rank_fusion([["a"], ["b"]], imputed={1: {"zzz": 1, "b": 5}})
    assert {d for d, _ in fused} == {"a", "b"} and dict(fused)["b"] == pytest.approx(1 / 61)
    with pytest.raises(ValueError, match="imputed ranks for list 2"):
        reciprocal_rank_fusion([["a"], ["b"]], imputed={2: {"a": 1}})


# An English query over an English/Japanese index: dense[en] = [e1], dense[ja] = [j1, j2],
# bm25 = [e2, e1] (lexical: it cannot match j1, j2).
LISTS = [["e1"], ["j1", "j2"], ["e2", "e1"]]
LEXICAL = [False, False, True]
LANGS = {"e1": "en", "e2": "en", "j1": "ja", "j2": "ja"}


def test_cross_language_credit_hand_computed() -> None:
    # The other-language chunks, at their best non-lexical rank + offset 1, credited in list 2:
    #   j1: dense[ja] rank 1 -> 2;  j2: dense[ja] rank 2 -> 3.  e1, e2 are English: no credit.
    credit = cross_language_credit(LISTS, LEXICAL, LANGS, "en")
    assert credit == {2: {"j1": 2, "j2": 3}}
    # Fused with k = 60:
    #   e1 = 1/61 + 1/62 = 0.0163934 + 0.0161290 = 0.0325225 (best rank 1)
    #   j1 = 1/61 + 1/62 (credited)               = 0.0325225 (best rank 1) -> after e1 by id
    #   j2 = 1/62 + 1/63 (credited)               = 0.0161290 + 0.0158730 = 0.0320020
    #   e2 = 1/61                                 = 0.0163934
    fused = reciprocal_rank_fusion(LISTS, imputed=credit)
    assert [d for d, _ in fused] == ["e1", "j1", "j2", "e2"]
    assert dict(fused) == pytest.approx({"e1": 0.0325225, "j1": 0.0325225, "j2": 0.0320020, "e2": 0.0163934},
                                        abs=1e-7)
    # without the credit the lexical list's silence sinks both Japanese chunks below e2's tie-break
    assert [d for d, _ in reciprocal_rank_fusion(LISTS)] == ["e1", "e2", "j1", "j2"]


def test_cross_language_credit_keeps_the_best_rank_and_the_offset() -> None:
    # j1 is 3rd in one dense list and 1st in another: its best rank (1) counts; offset 0 credits it there
    lists = [["e1", "x", "j1"], ["j1"], ["e1"]]
    langs = {"e1": "en", "x": "en", "j1": "ja"}
    assert cross_language_credit(lists, LEXICAL, langs, "en", offset=0) == {2: {"j1": 1}}
    assert cross_language_credit(lists, LEXICAL, langs, "en", offset=2) == {2: {"j1": 3}}
    # a Japanese query: now the English chunks are the blind spots
    assert cross_language_credit(lists, LEXICAL, langs, "ja") == {2: {"e1": 2, "x": 3}}
    # every list lexical, or none: nothing to credit; nothing in another language: nothing either
    assert cross_language_credit(lists, [True] * 3, langs, "en") == {}
    assert cross_language_credit(lists, [False] * 3, langs, "en") == {}
    assert cross_language_credit([["e1"], ["e1"]], [False, True], langs, "en") == {}
    # every lexical list gets its own copy
    two = cross_language_credit([["j1"], ["e1"], ["e1"]], [False, True, True], langs, "en")
    assert two == {1: {"j1": 2}, 2: {"j1": 2}} and two[1] is not two[2]


def test_cross_language_credit_validation() -> None:
    with pytest.raises(ValueError, match=r"^got 2 lexical flags for 3 rankings; give one per ranking$"):
        cross_language_credit(LISTS, [False, True], LANGS, "en")
    with pytest.raises(ValueError, match=r"^offset must be >= 0 \(1 credits a chunk one rank below its dense rank\), got -1$"):
        cross_language_credit(LISTS, LEXICAL, LANGS, "en", offset=-1)
