"""BM25Index: ranking on small real corpora, the allowed mask, persistence."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.analysis import MultilingualAnalyzer
from ingest.bm25_index import META_FILE, BM25Index, IndexMismatchError

EN_DOCS = {
    "en-cats": "Cats are small domesticated carnivorous mammals that often sleep in the sun.",
    "en-rust": "Rust is a systems programming language focused on memory safety and speed.",
    "en-tokyo": "Tokyo is the capital of Japan and its most populous metropolitan area.",
    "en-bread": "Bread is baked from a dough of flour and water, usually with yeast.",
}
JA_DOCS = {
    "ja-fuji": "富士山は静岡県と山梨県にまたがる活火山で、標高は3776メートルである。",
    "ja-osaka": "大阪は近畿地方の中心都市で、食い倒れの街として知られている。",
    "ja-tokyo": "東京都は日本の首都であり、人口が最も多い都道府県である。",
    "ja-sushi": "寿司は酢飯と魚介類を組み合わせた日本料理である。",
}


@pytest.fixture(scope="module")
def analyzer() -> MultilingualAnalyzer:
    return MultilingualAnalyzer()


@pytest.fixture(scope="module")
def index(analyzer: MultilingualAnalyzer) -> BM25Index:
    docs = {**EN_DOCS, **JA_DOCS}
    return BM25Index.build(
        list(docs), analyzer.tokenize_many(docs.values()), analyzer=analyzer.name, generation="g1"
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Which language is about memory safety?", "en-rust"),
        ("where do cats sleep", "en-cats"),
        ("capital city of Japan", "en-tokyo"),
        ("富士山の標高は何メートルですか", "ja-fuji"),
        ("日本の首都はどこ?", "ja-tokyo"),
        ("食い倒れで有名な都市", "ja-osaka"),
    ],
)
def test_right_doc_ranks_first(
    index: BM25Index, analyzer: MultilingualAnalyzer, query: str, expected: str
) -> None:
    hits = index.search(analyzer.tokenize(query), top_k=3)
    assert hits and hits[0][0] == expected
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_only_positive_scores(index: BM25Index, analyzer: MultilingualAnalyzer) -> None:
    assert index.search(analyzer.tokenize("zebra quantum"), top_k=5) == []
    assert index.search([], top_k=5) == []
    hits = index.search(analyzer.tokenize("bread"), top_k=10)
    assert [cid for cid, _ in hits] == ["en-bread"] and hits[0][1] > 0
    assert index.search(analyzer.tokenize("bread"), top_k=0) == []


def test_scores_match_lucene_bm25_by_hand() -> None:
    # Lucene (>= 8) BM25, k1=1.5, b=0.75: idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
    # tf part = tf / (tf + k1 * (1 - b + b * dl / avgdl))  (no constant (k1 + 1) factor).
    docs = [["a", "b", "a"], ["b", "c"], ["c", "c", "c", "d"]]
    idx = BM25Index.build(["d0", "d1", "d2"], docs)
    n, avgdl, k1, b = 3, 3.0, 1.5, 0.75

    def term(tf: int, df: int, dl: int) -> float:
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))

    expected = {
        "d0": term(2, 1, 3) + term(1, 2, 3),  # "a" twice, "b" once
        "d1": term(1, 2, 2) + term(1, 2, 2),  # "b" once, "c" once
        "d2": term(3, 2, 4),  # "c" three times
    }
    got = dict(idx.search(["a", "b", "c"], top_k=3))
    assert got.keys() == expected.keys()
    for cid, score in expected.items():
        assert got[cid] == pytest.approx(score, rel=1e-5)


def test_doc_freq_counts_rows_not_occurrences() -> None:
    idx = BM25Index.build(["d0", "d1", "d2"], [["a", "b", "a"], ["b", "c"], ["c", "c", "c", "d"]])
    assert idx.doc_freq(["a", "b", "c", "d", "zzz", ""]) == {"a": 1, "b": 2, "c": 2, "d": 1, "zzz": 0, "": 0}


def test_mask_applied_before_top_k(index: BM25Index, analyzer: MultilingualAnalyzer) -> None:
    q = analyzer.tokenize("日本 Japan 東京")
    full = index.search(q, top_k=10)
    assert len(full) >= 3
    allowed = np.array([cid != full[0][0] for cid in index.ids])
    masked = index.search(q, top_k=2, allowed=allowed)
    # The best hit is hidden; the next two allowed ones move up, with unchanged scores.
    assert masked == full[1:3]


def test_bad_arguments(index: BM25Index) -> None:
    with pytest.raises(ValueError, match="shape"):
        index.search(["東京"], top_k=3, allowed=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="bool"):
        index.search(["東京"], top_k=3, allowed=np.ones(len(index), dtype=int))
    with pytest.raises(ValueError, match="top_k"):
        index.search(["東京"], top_k=-1)
    with pytest.raises(ValueError, match="pair up"):
        BM25Index.build(["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="unique"):
        BM25Index.build(["a", "a"], [["x"], ["y"]])


def test_save_load_round_trip(tmp_path: Path, index: BM25Index, analyzer: MultilingualAnalyzer) -> None:
    target = tmp_path / "kw"
    index.save(target, generation="gen-42")
    meta = json.loads((target / META_FILE).read_text(encoding="utf-8"))
    assert meta["format_version"] == 1
    assert (
        meta["analyzer"] == analyzer.name and meta["n_docs"] == len(index) and meta["generation"] == "gen-42"
    )
    assert BM25Index.read_meta(target) == meta

    loaded = BM25Index.load(target, expected_generation="gen-42", expected_analyzer=analyzer.name)
    assert loaded.ids == index.ids and loaded.generation == "gen-42" and loaded.analyzer == analyzer.name
    for query in ("富士山 標高", "memory safe language", "日本 Japan 東京"):
        q = analyzer.tokenize(query)
        assert loaded.search(q, top_k=5) == index.search(q, top_k=5)
    mask = np.arange(len(index)) % 2 == 0
    q = analyzer.tokenize("日本 Japan")
    assert loaded.search(q, 5, mask) == index.search(q, 5, mask)


def test_save_replaces_existing_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "kw"
    BM25Index.build(["a", "b"], [["x"], ["y"]]).save(target, generation="1")
    BM25Index.build(["c"], [["z"]]).save(target, generation="2")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kw.lock", "kw"]  # no .tmp-/.old- leftovers
    loaded = BM25Index.load(target)
    assert loaded.ids == ["c"] and loaded.generation == "2"
    assert loaded.search(["z"], 5)[0][0] == "c" and loaded.search(["x"], 5) == []


def test_writers_saving_at_once_take_turns(tmp_path: Path) -> None:
    """A query process rebuilding a stale index while an ingest saves the new one: each save
    swaps a whole directory in, none fails on the other's, and the survivor loads."""
    target = tmp_path / "kw"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                BM25Index.build([f"{n}-{i}"], [["x"]]).save(target, generation=f"{n}-{i}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    loaded = BM25Index.load(target)
    assert loaded.generation is not None and loaded.ids == [loaded.generation]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kw.lock", "kw"]


def test_load_refuses_stale_or_missing(tmp_path: Path) -> None:
    target = tmp_path / "kw"
    with pytest.raises(FileNotFoundError, match="no BM25 index"):
        BM25Index.load(target)
    BM25Index.build(["a"], [["x"]], analyzer="whitespace/v1").save(target, generation="7")
    with pytest.raises(IndexMismatchError, match="generation '7'"):
        BM25Index.load(target, expected_generation="8")
    with pytest.raises(IndexMismatchError, match="analyzer 'whitespace/v1'"):
        BM25Index.load(target, expected_analyzer="ja-sudachi-a+c+en-snowball/v1")


def test_corpus_without_terms_round_trips(tmp_path: Path) -> None:
    idx = BM25Index.build(["a", "b"], [[], []], generation="0")
    assert idx.search(["x"], 3) == []
    idx.save(tmp_path / "kw")
    loaded = BM25Index.load(tmp_path / "kw")
    assert loaded.ids == ["a", "b"] and loaded.search(["x"], 3) == []
    empty = BM25Index.build([], [])
    assert len(empty) == 0 and empty.search(["x"], 3) == []


VOCAB = list("abcdefgh")


@st.composite
def corpora(draw: st.DrawFn) -> tuple[list[list[str]], np.ndarray, list[str], int]:
    n = draw(st.integers(1, 25))
    docs = draw(st.lists(st.lists(st.sampled_from(VOCAB), max_size=8), min_size=n, max_size=n))
    mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    query = draw(st.lists(st.sampled_from([*VOCAB, "zz"]), max_size=4))
    k = draw(st.integers(0, 30))
    return docs, mask, query, k


@settings(max_examples=300, deadline=None)
@given(corpora())
def test_mask_property(case: tuple[list[list[str]], np.ndarray, list[str], int]) -> None:
    docs, mask, query, k = case
    ids = [f"d{i}" for i in range(len(docs))]
    idx = BM25Index.build(ids, docs)
    hits = idx.search(query, top_k=k, allowed=mask)
    allowed_ids = {i for i, ok in zip(ids, mask, strict=True) if ok}
    # BM25 (Lucene idf > 0) is positive exactly when a doc holds a query term.
    matching = {i for i, d in zip(ids, docs, strict=True) if set(d) & set(query)}
    assert {cid for cid, _ in hits} <= allowed_ids & matching  # never a disallowed id
    assert len(hits) == min(k, len(allowed_ids & matching))
    assert len({cid for cid, _ in hits}) == len(hits)
    # Same as ranking everything and dropping disallowed rows afterwards.
    unmasked = idx.search(query, top_k=len(docs))
    assert hits == [h for h in unmasked if h[0] in allowed_ids][:k]
    if hits:
        assert all(s > 0 for _, s in hits)


@settings(max_examples=100, deadline=None)
@given(corpora())
def test_scores_equal_bm25s(case: tuple[list[list[str]], np.ndarray, list[str], int]) -> None:
    docs, _, query, _ = case
    idx = BM25Index.build([str(i) for i in range(len(docs))], docs)
    known = [t for t in query if any(t in d for d in docs)]
    if not known:
        assert not idx.scores(query).any()
        return
    # Our summation over the postings equals bm25s' own scorer.
    assert idx._model is not None
    expected = idx._model.get_scores(known)
    np.testing.assert_allclose(idx.scores(query), expected, rtol=1e-5, atol=1e-7)


@settings(max_examples=100, deadline=None)
@given(corpora())
def test_build_equals_bm25s_own_index(case: tuple[list[list[str]], np.ndarray, list[str], int]) -> None:
    import bm25s

    docs = case[0]
    if not any(docs):
        return
    idx = BM25Index.build([str(i) for i in range(len(docs))], docs)
    assert idx._model is not None
    vocab = dict(idx._model.vocab_dict)
    ref = bm25s.BM25(method="lucene")
    # bm25s' own (Python-loop) builder over the same term ids must give the same CSC arrays.
    ref.index(([[vocab[t] for t in d] for d in docs], vocab), show_progress=False)
    np.testing.assert_array_equal(idx._model.scores["indptr"], ref.scores["indptr"])
    np.testing.assert_array_equal(idx._model.scores["indices"], ref.scores["indices"])
    np.testing.assert_allclose(idx._model.scores["data"], ref.scores["data"], rtol=1e-6)
