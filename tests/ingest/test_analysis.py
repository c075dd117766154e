"""Analyzers on real Japanese, English and mixed text."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.analysis import (
    DEFAULT_ANALYZER,
    Analyzer,
    MultilingualAnalyzer,
    WhitespaceAnalyzer,
    _sudachi_pieces,
    analyzer_names,
    get_analyzer,
)


@pytest.fixture(scope="module")
def ml() -> MultilingualAnalyzer:
    return MultilingualAnalyzer()


def test_japanese_sentence_keeps_content_words_drops_particles(ml: MultilingualAnalyzer) -> None:
    terms = ml.tokenize("東京都に住んでいます")
    assert "東京" in terms and "住む" in terms  # 住ん -> normalised form 住む
    for function_word in ("に", "で", "ます"):  # particles (助詞) and auxiliaries (助動詞)
        assert function_word not in terms


def test_japanese_symbols_and_whitespace_dropped(ml: MultilingualAnalyzer) -> None:
    terms = ml.tokenize("梅雨（つゆ）は、日本の気象現象である。　雨季の一種。")
    # Sudachi normalises spelling variants: 雨季 -> 雨期.
    assert {"梅雨", "気象", "現象", "雨期", "一種"} <= set(terms)
    assert not {"(", ")", "、", "。", " ", "\u3000", "は", "の", "で"} & set(terms)


def test_split_modes_choose_unit_length() -> None:
    text = "国際連合の会議に東京都で出席した"
    a = MultilingualAnalyzer("A").tokenize(text)
    c = MultilingualAnalyzer("C").tokenize(text)
    ac = MultilingualAnalyzer("A+C").tokenize(text)
    assert {"国際", "連合", "東京", "都"} <= set(a) and "国際連合" not in a and "東京都" not in a
    assert {"国際連合", "東京都"} <= set(c) and "国際" not in c
    # A+C: the compound and its parts, so a query with either form matches.
    assert {"国際連合", "国際", "連合", "東京都", "東京", "都"} <= set(ac)


def test_english_stemming_and_stopwords(ml: MultilingualAnalyzer) -> None:
    assert ml.tokenize("running") == ["run"]
    terms = ml.tokenize("The cats were running to the Companies' offices")
    assert terms == ["cat", "run", "compani", "offic"]


def test_mixed_japanese_english_text(ml: MultilingualAnalyzer) -> None:
    terms = ml.tokenize("PythonでRunning modelsを使った評価")
    # Latin words are stemmed like English, not turned into katakana by Sudachi (ランニング).
    assert {"python", "run", "model", "使う", "評価"} <= set(terms)
    assert "ランニング" not in terms and "で" not in terms


def test_nfkc_full_and_half_width(ml: MultilingualAnalyzer) -> None:
    # Full-width Latin/digits become ASCII; half-width katakana become full-width.
    assert ml.tokenize("ＡＰＩキー１２３") == ml.tokenize("APIキー123")
    assert "カタカナ" in ml.tokenize("ｶﾀｶﾅ") or "片仮名" in ml.tokenize("ｶﾀｶﾅ")


def test_empty_and_symbol_only(ml: MultilingualAnalyzer) -> None:
    assert ml.tokenize("") == []
    assert ml.tokenize("。、！？ --- ...") == []


def test_long_japanese_run_is_split_for_sudachi(ml: MultilingualAnalyzer) -> None:
    # 40,000 kanji without punctuation: 120 kB of UTF-8, beyond Sudachi's input limit.
    terms = ml.tokenize("東京大阪" * 10_000)
    assert terms.count("東京") >= 9_000 and "大阪" in terms


def test_sudachi_pieces_respect_limit_and_prefer_line_ends() -> None:
    text = "あいう。えお\nかきくけこさしすせそたちつてと"
    pieces = _sudachi_pieces(text, limit=10)
    assert all(len(x) <= 10 for x in pieces)
    assert "".join(pieces) == text
    assert pieces[0] == "あいう。えお\n"


def test_tokenize_many_matches_tokenize(ml: MultilingualAnalyzer) -> None:
    texts = ["東京都に住んでいます", "running dogs", "", "Pythonで書く"]
    assert ml.tokenize_many(texts) == [ml.tokenize(t) for t in texts]
    assert ml.tokenize_many(iter(texts)) == [ml.tokenize(t) for t in texts]


def test_thread_safe_same_results_as_single_thread() -> None:
    analyzer = MultilingualAnalyzer()
    texts = [f"{i}番目の文書では東京都の running 会議について書いています" for i in range(200)]
    expected = [analyzer.tokenize(t) for t in texts]
    results: dict[int, list[list[str]]] = {}

    def work(k: int) -> None:
        results[k] = analyzer.tokenize_many(texts)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[k] == expected for k in range(4))


def test_constructor_is_cheap() -> None:
    a = MultilingualAnalyzer()
    assert getattr(a._local, "sudachi", None) is None  # dictionary loads on first tokenize
    a.tokenize("東京")
    assert a._local.sudachi is not None


def test_whitespace_analyzer() -> None:
    w = WhitespaceAnalyzer()
    assert w.name == "whitespace/v1"
    assert w.tokenize("Hello  World\nfoo") == ["hello", "world", "foo"]
    assert w.tokenize_many(["A b", ""]) == [["a", "b"], []]


def test_registry_names_and_aliases() -> None:
    for name in analyzer_names():
        a = get_analyzer(name)
        assert isinstance(a, Analyzer)
        assert get_analyzer(a.name).name == a.name  # the manifest name round-trips
    assert get_analyzer().name == DEFAULT_ANALYZER
    assert get_analyzer("default").name == DEFAULT_ANALYZER
    assert get_analyzer("whitespace").name == "whitespace/v1"
    assert MultilingualAnalyzer("C").name == "ja-sudachi-c+en-snowball/v1"


def test_unknown_analyzer_names_allowed() -> None:
    with pytest.raises(ValueError, match=r"unknown analyzer 'mecab'.*whitespace/v1"):
        get_analyzer("mecab")


def test_bad_units_rejected() -> None:
    with pytest.raises(ValueError, match="ja_units='D'"):
        MultilingualAnalyzer("D")  # type: ignore[arg-type]


_ML = MultilingualAnalyzer()  # shared across hypothesis examples (fixtures are not reset per example)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(
            st.characters(codec="utf-8"),
            st.sampled_from("東京都に住んでいますカタカナｶﾀｶﾅＡＢＣ１２３。、「」 \n\t\x1f"),
        ),
        max_size=60,
    )
)
def test_any_text_gives_clean_terms(text: str) -> None:
    terms = _ML.tokenize(text)
    # Terms are non-empty, hold no whitespace (the catalog joins them with \x1f), lowercase ASCII.
    assert all(t and not any(c.isspace() for c in t) for t in terms)
    assert all(t == t.lower() for t in terms if t.isascii())
