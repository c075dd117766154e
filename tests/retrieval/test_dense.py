"""Dense retrieval: the unfiltered over-fetch + post-filter returns what the filtered Chroma query
returns; when too few candidates are visible it falls back to an exact in-memory search, equal to
a brute-force numpy reference (or, with ``filtered_search="chroma"``, to the filtered Chroma
query); no query path of the default (local) reader sends Chroma a ``where``; one hybrid search
makes one unfiltered Chroma query for all its per-language lists.

Real pipeline (real Chroma, catalog, BM25) with the hashing embedder; each document is one chunk.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import retrieval.dense as dense_mod
from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
from ingest.store import ChromaStore
from retrieval.dense import DenseRetriever, exact_top_k, overfetch
from retrieval.factory import make_retriever
from retrieval.hybrid import HybridRetriever
from retrieval.index import IndexReader
from retrieval.permissions import chroma_where, is_visible, matches_filters, normalise_groups, to_hits
from retrieval.rows import RowMeta
from retrieval.types import Filters
from retrieval.vectors import VectorMatrix

_REAL_QUERY = ChromaStore.query  # captured before ``spy`` patches it

EN = ["salary", "budget", "vpn", "leave", "password", "server", "plan", "audit", "travel", "laptop",
      "policy", "expense", "holiday", "network", "backup", "invoice", "contract", "meeting"]
JA = ["給与", "予算", "休暇", "申請", "規程", "出張", "経費", "会議", "契約", "請求書", "承認", "研修"]


@dataclass
class Spy:
    """Records the ``where`` of every ``ChromaStore.query`` call, the exact fallbacks
    (``exact_top_k``) and the vector loads (``ChromaStore.get_vectors``)."""

    calls: list[dict[str, Any] | None] = field(default_factory=list)
    exact: int = 0
    loads: int = 0
    real_query: Callable[..., list[tuple[str, float]]] | None = None

    def clear(self) -> None:
        self.calls.clear()
        self.exact = 0

    @property
    def unfiltered(self) -> int:
        return sum(w is None for w in self.calls)

    @property
    def filtered(self) -> int:
        return sum(w is not None for w in self.calls)


def build(base: Path, docs: Sequence[tuple[str, dict[str, Any], str]]) -> IndexReader:
    root = base / "docs"
    for name, meta, text in docs:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        Path(str(p) + ".meta.json").write_text(json.dumps(meta), encoding="utf-8")
    s = IndexSettings(index_dir=base / "idx", embedder="hashing", chunk_tokens=256, chunk_overlap=0)
    report = Ingestor(s).run([root])
    assert report.files_failed == [], report.files_failed
    return IndexReader(s)


def mixed_docs(n: int = 240, seed: int = 3) -> list[tuple[str, dict[str, Any], str]]:
    """Half English, half Japanese; 60 % public, 30 % hr, 10 % exec; md/txt; 12 dates; 3 folders."""
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        ja = i % 2 == 1
        words = rnd.choices(JA if ja else EN, k=rnd.randint(6, 14))
        groups = ["public"] if i % 10 < 6 else ["hr"] if i % 10 < 9 else ["exec"]
        meta = {"groups": groups, "date": f"2025-{1 + i % 12:02d}-15", "lang": "ja" if ja else "en"}
        name = f"{['a', 'b', 'a/c'][i % 3]}/doc{i}.{'md' if i % 4 < 2 else 'txt'}"
        docs.append((name, meta, ("文書" if ja else "Note ") + f"{i}: " + (" " if not ja else "").join(words)))
    return docs


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexReader]:
    r = build(tmp_path_factory.mktemp("dense-mixed"), mixed_docs())
    assert r.store.count() == 240 and sorted(r.languages()) == ["en", "ja"]
    yield r
    r.close()


@pytest.fixture(scope="module")
def rare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexReader]:
    """150 English "hr" chunks and one Japanese chunk of group "rare", far from English queries."""
    rnd = random.Random(5)
    docs = [(f"hr/doc{i}.md", {"groups": ["hr"], "lang": "en"}, f"Note {i}: " + " ".join(rnd.choices(EN, k=10)))
            for i in range(150)]
    docs.append(("rare/only.md", {"groups": ["rare"], "lang": "ja"}, "極秘の研修規程と承認の手順"))
    r = build(tmp_path_factory.mktemp("dense-rare"), docs)
    assert r.store.count() == 151
    yield r
    r.close()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    """Every IndexReader's store records its queries (patched on the class: readers of module
    fixtures were opened before this test)."""
    real = ChromaStore.query
    real_get = ChromaStore.get_vectors
    real_exact = dense_mod.exact_top_k
    s = Spy(real_query=real)

    def query(self: ChromaStore, vector: Any, k: int, where: dict[str, Any] | None = None,
              count: int | None = None) -> list[tuple[str, float]]:
        s.calls.append(where)
        return real(self, vector, k, where=where, count=count)

    def get_vectors(self: ChromaStore, ids: Sequence[str], page: int = 4000) -> Any:
        s.loads += 1
        return real_get(self, ids, page)

    def exact(*args: Any) -> list[tuple[str, float]]:
        s.exact += 1
        return real_exact(*args)

    monkeypatch.setattr(ChromaStore, "query", query)
    monkeypatch.setattr(ChromaStore, "get_vectors", get_vectors)
    monkeypatch.setattr(dense_mod, "exact_top_k", exact)
    yield s


def reference(reader: IndexReader, query: str, k: int, filters: Filters | None, groups: Sequence[str] | None,
              lang: str | None = None) -> list[tuple[str, float]]:
    """Chroma's filtered query (not recorded by ``spy``), then the final guard: the route the
    unfiltered over-fetch must match."""
    ug = normalise_groups(groups)
    if lang is not None:
        filters = replace(filters or Filters(), langs=(lang,))
    vec = reader.embed_query(query)
    found = _REAL_QUERY(reader.store, vec, k, where=chroma_where(ug, filters))
    return [(h.chunk.id, h.score) for h in to_hits(found, reader.chunks([i for i, _ in found]), ug, filters, "dense")]


def brute_force(reader: IndexReader, query: str, k: int, filters: Filters | None, groups: Sequence[str] | None,
                lang: str | None = None) -> list[tuple[str, float]]:
    """Exact top-k by cosine over every stored vector the caller may see (catalog groups and
    filters checked chunk by chunk), equal scores in id order: independent of ``allowed_mask``."""
    ug = normalise_groups(groups)
    if lang is not None:
        filters = replace(filters or Filters(), langs=(lang,))
    got = reader.store._connect().get(include=["embeddings"])
    chunks = reader.chunks(got["ids"])
    q = reader.embed_query(query)
    scored = []
    for cid, v in zip(got["ids"], got["embeddings"], strict=True):
        c = chunks.get(cid)
        if c is not None and is_visible(c.groups, ug) and matches_filters(c, filters):
            v = np.asarray(v, dtype=np.float64)
            scored.append((cid, float(v @ q / np.linalg.norm(v))))
    return sorted(scored, key=lambda x: (-round(x[1], 6), x[0]))[:k]


def same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    """Same scores in the same order, and the same ids up to the order of equal scores; among
    chunks tied at the cut-off score either side may keep any of them."""
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)
    if not got:
        return
    cut = got[-1][1]

    def by_score(xs: list[tuple[str, float]]) -> set[tuple[str, float]]:
        return {(i, round(s, 5)) for i, s in xs if s > cut + 1e-6}

    assert by_score(got) == by_score(want)


QUERIES = ["salary budget", "vpn password server", "travel expense invoice", "給与 予算", "休暇 申請 規程",
           "contract 契約"]
QUERY_LANG = {"salary budget": "en", "vpn password server": "en", "travel expense invoice": "en",
              "給与 予算": "ja", "休暇 申請 規程": "ja", "contract 契約": "both"}


def check(got: list[tuple[str, float]], want: list[tuple[str, float]], list_lang: str | None, query: str) -> None:
    """``same`` where the list's chunks are near the query. A list of the *other* language than
    the query's (dense[ja] for an English query) holds chunks far from it: the tail of an
    approximate top-N, where HNSW (beam search towards the query) may miss one that the filtered
    search, which keeps walking until it has k allowed chunks, finds (measured: 6 of 864 such
    lists over 8 builds of this corpus). There: still sorted, mostly the same chunks."""
    if list_lang is None or QUERY_LANG[query] == list_lang:
        same(got, want)
        return
    assert len(got) == len(want)
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    if got:  # chunks tied at the cut-off score (often 0.0 here) may differ freely
        cut = max(got[-1][1], want[-1][1]) + 1e-6
        above = {i for i, s in want if s > cut}
        assert len(above & {i for i, _ in got}) >= 0.6 * len(above)


def at_least_as_good(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    """An exact top-k against Chroma's filtered (approximate) one: as many hits, the i-th score
    never below Chroma's i-th, and most of Chroma's chunks above the cut-off among them."""
    assert len(got) == len(want)
    assert all(g[1] >= w[1] - 1e-6 for g, w in zip(got, want, strict=True))
    if got:
        cut = max(got[-1][1], want[-1][1]) + 1e-6
        above = {i for i, s in want if s > cut}
        assert len(above & {i for i, _ in got}) >= 0.6 * len(above)


def exact(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    """The brute-force ranking: same scores position by position, each returned id scored as the
    reference scores it, the same ids above the cut-off. Order among scores within float32 vs
    float64 rounding (~1e-7) may differ; exact ties in id order: ``test_exact_top_k_ties...``."""
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5)
    ref = dict(want)
    assert all(ref.get(i, -9.0) == pytest.approx(s, abs=1e-5) for i, s in got if s > got[-1][1] + 1e-5)
    same(got, want)


def verify(reader: IndexReader, spy: Spy, hits: list[Any], q: str, k: int, f: Filters | None,
           groups: Sequence[str] | None, lang: str | None, list_lang: str | None) -> None:
    """The checks for one ``retrieve`` made since ``spy.clear()``."""
    got = [(h.chunk.id, h.score) for h in hits]
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert spy.filtered == 0, "the local reader must never send Chroma a where"
    want = reference(reader, q, k, f, groups, lang)
    if spy.exact:
        exact(got, brute_force(reader, q, k, f, groups, lang))
        at_least_as_good(got, want)
    else:
        check(got, want, list_lang, q)


def test_overfetch() -> None:
    assert overfetch(10) == 110 and overfetch(50) == 200 and overfetch(1) == 101


@pytest.mark.parametrize("groups", [None, ["hr"], ["*"], ["exec", "hr"]])
def test_equals_the_filtered_query_when_most_chunks_are_visible(mixed: IndexReader, spy: Spy,
                                                                 groups: list[str] | None) -> None:
    for lang in (None, "en", "ja"):
        r = DenseRetriever(mixed, lang)
        for q in QUERIES:
            for k in (1, 5, 20):
                spy.clear()
                hits = r.retrieve(q, top_k=k, groups=groups)
                assert len(hits) == k
                took_fallback = spy.exact > 0
                verify(mixed, spy, hits, q, k, None, groups, lang, lang)
                if lang is None:  # >= 60 % of the chunks are visible: the candidates suffice
                    assert not took_fallback, (groups, q, k)


def test_a_rare_group_still_gets_its_one_chunk(rare: IndexReader, spy: Spy) -> None:
    rare_id = next(c.id for c in rare.catalog.iter_chunks() if c.groups == ("rare",))
    r = DenseRetriever(rare)
    # top-101 of 151 by cosine are all "hr" chunks (the rare one shares no n-gram with the query)
    hits = r.retrieve("salary budget vpn", top_k=1, groups=["rare"])
    assert [h.chunk.id for h in hits] == [rare_id]
    assert spy.unfiltered == 1 and spy.exact == 1 and spy.filtered == 0, "expected the exact fallback"
    same([(h.chunk.id, h.score) for h in hits], reference(rare, "salary budget vpn", 1, None, ["rare"]))

    spy.clear()
    hits = r.retrieve("salary budget vpn", top_k=5, groups=["rare"])
    assert [h.chunk.id for h in hits] == [rare_id]  # fewer than k exist: not padded with others
    assert spy.exact == 1 and spy.filtered == 0

    # over-fetch covers the whole collection (overfetch(50) = 200 >= 151): no fallback needed
    spy.clear()
    hits = r.retrieve("salary budget vpn", top_k=50, groups=["rare"])
    assert [h.chunk.id for h in hits] == [rare_id]
    assert spy.unfiltered == 1 and spy.exact == 0 and spy.filtered == 0

    assert r.retrieve("salary budget vpn", top_k=5, groups=None) == []  # nothing is public
    assert r.retrieve("salary budget vpn", top_k=50, groups=None) == []
    assert spy.loads == 1  # the vector matrix was loaded once, by the first fallback


FILTERS = [
    Filters(file_types=("md",)),
    Filters(langs=("ja",)),
    Filters(langs=("en",), file_types=("txt",)),
    Filters(date_from="2025-03-01"),
    Filters(date_from="2025-03-01", date_to="2025-10-31"),
    Filters(date_from="2025-06-01", date_to="2025-06-30"),  # one month in twelve: fallback for larger k
    Filters(source_prefix="a"),
    Filters(source_prefix="a/c", file_types=("md",), date_to="2025-06-30"),  # narrow
]


@pytest.mark.parametrize("f", FILTERS, ids=repr)
def test_filters_match_the_filtered_query(mixed: IndexReader, spy: Spy, f: Filters) -> None:
    fallbacks = 0
    for groups in (None, ["hr"]):
        ug = normalise_groups(groups)
        for lang in (None, "en", "ja"):
            r = DenseRetriever(mixed, lang)
            for q in QUERIES[:4]:
                for k in (3, 20):
                    spy.clear()
                    hits = r.retrieve(q, top_k=k, filters=f, groups=groups)
                    for h in hits:
                        assert is_visible(h.chunk.groups, ug) and matches_filters(h.chunk, f)
                        assert lang is None or h.chunk.lang == lang
                    if lang is not None and f.langs and lang not in f.langs:
                        assert hits == []
                        continue
                    fallbacks += spy.exact
                    list_lang = lang or (f.langs[0] if len(f.langs) == 1 else None)
                    verify(mixed, spy, hits, q, k, f, groups, lang, list_lang)
    assert fallbacks > 0 or f != FILTERS[5], "the one-month filter should need the fallback"


def test_chroma_mode_uses_the_filtered_query(mixed: IndexReader, spy: Spy) -> None:
    """``filtered_search="chroma"`` (and "auto" with a Chroma server) falls back to Chroma's filtered query."""
    assert mixed.filtered_search == "auto" and mixed.exact_fallback
    remote = replace(mixed.settings, chroma_url="http://127.0.0.1:8000")
    assert not IndexReader(remote).exact_fallback
    assert IndexReader(remote, filtered_search="exact").exact_fallback
    with pytest.raises(ValueError, match=r"invalid filtered_search 'fast'.*auto, exact, chroma"):
        IndexReader(mixed.settings, filtered_search="fast")

    reader = IndexReader(mixed.settings, filtered_search="chroma")
    try:
        f = FILTERS[5]
        for q in QUERIES[:4]:
            spy.clear()
            for lang in ("en", "ja"):
                hits = DenseRetriever(reader, lang).retrieve(q, top_k=20, filters=f)
                got = [(h.chunk.id, h.score) for h in hits]
                same(got, reference(reader, q, 20, f, None, lang))
            # one month in twelve, per language: 20 visible are never among the 120 candidates;
            # the second list reuses the first one's unfiltered query
            assert spy.unfiltered == 1 and spy.filtered == 2 and spy.exact == 0
        assert spy.loads == 0  # no vector matrix in this mode
    finally:
        reader.close()


def test_one_hybrid_search_makes_one_unfiltered_query(mixed: IndexReader, spy: Spy) -> None:
    r = make_retriever(mixed, "hybrid", depth=10)
    assert isinstance(r, HybridRetriever)
    dense = [x for x in r.retrievers if isinstance(x, DenseRetriever)]
    assert sorted(str(x.lang) for x in dense) == ["en", "ja"]
    # queries in both languages: with the hashing embedder an English query has (almost) no
    # Japanese chunk among its nearest candidates, which would send dense[ja] to the fallback
    for q in ("laptop backup 会議", "研修 承認 meeting vpn"):
        spy.clear()
        hits = r.retrieve(q, top_k=10, groups=None)
        assert hits and all(h.chunk.groups == ("public",) for h in hits)
        # the query language's list made the one unfiltered Chroma call; the other language's
        # list went straight to the exact search (its top-N would not hold 10 of its chunks)
        assert spy.calls == [None] and spy.exact == 1
        # each list is what its own filtered query gives
        for d in dense:
            got = [(h.chunk.id, h.score) for h in d.retrieve(q, top_k=10)]
            check(got, reference(mixed, q, 10, None, None, d.lang), d.lang, "contract 契約")


def test_hybrid_search_with_the_fallback_sends_no_where(mixed: IndexReader, spy: Spy) -> None:
    r = make_retriever(mixed, "hybrid", depth=10)
    spy.clear()
    hits = r.retrieve("salary budget", top_k=10, groups=["hr"], filters=FILTERS[5])
    assert hits and all(matches_filters(h.chunk, FILTERS[5]) for h in hits)
    assert spy.exact > 0 and spy.filtered == 0 and spy.unfiltered == 1


def test_memo_follows_the_catalog_generation(mixed: IndexReader, spy: Spy) -> None:
    vec = mixed.embed_query("expense holiday")
    a = mixed.nearest(vec, 30)
    b = mixed.nearest(vec, 30)
    assert b is a and spy.unfiltered == 1
    assert len(a.found) == 30 and not a.complete
    with mixed.catalog.transaction() as db:  # what an ingest by another process does at its end
        mixed.catalog.bump_generation(db)
    c = mixed.nearest(vec, 30)
    assert spy.unfiltered == 2 and c.found == a.found
    assert mixed.nearest(vec, 500).complete and len(mixed.nearest(vec, 500).found) == 240


@pytest.mark.parametrize("groups", [None, ["hr"], ["exec"], ["nobody"]])
@pytest.mark.parametrize("fi", range(len(FILTERS)))
def test_visible_agrees_with_the_catalog_check(mixed: IndexReader, groups: list[str] | None, fi: int) -> None:
    """``visible`` (row metadata) keeps exactly the candidates ``to_hits`` (catalog chunks) keeps,
    in order, up to its limit; ids the catalog does not know are dropped."""
    ug, f = normalise_groups(groups), FILTERS[fi]
    found = mixed.nearest(mixed.embed_query("budget 予算 leave"), 240).found
    found = [("orphan-id", 0.99), *found]
    by_catalog = [(h.chunk.id, h.score) for h in to_hits(found, mixed.chunks([i for i, _ in found]), ug, f, "dense")]
    for limit in (1, 7, 500):
        got = mixed.visible(found, ug, f, limit)
        assert got == by_catalog[:limit]


def test_row_mask_is_memoised_per_generation(mixed: IndexReader) -> None:
    _, rows = mixed.bm25()
    a = mixed.row_mask(rows, ("hr",), FILTERS[5])
    assert a is not None and mixed.row_mask(rows, ("hr",), FILTERS[5]) is a
    with mixed.catalog.transaction() as db:
        mixed.catalog.bump_generation(db)
    _, rows2 = mixed.bm25()
    b = mixed.row_mask(rows2, ("hr",), FILTERS[5])
    assert rows2 is not rows and b is not a
    np.testing.assert_array_equal(a, b)


def test_dense_reads_only_the_chunks_it_returns(mixed: IndexReader, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[int] = []
    real = IndexReader.chunks

    def chunks(self: IndexReader, ids: Sequence[str]) -> Any:
        read.append(len(ids))
        return real(self, ids)

    monkeypatch.setattr(IndexReader, "chunks", chunks)
    hits = DenseRetriever(mixed, "en").retrieve("salary budget", top_k=5, groups=["hr"])
    assert len(hits) == 5 and read == [5]


def test_vector_matrix_is_built_once_per_generation(mixed: IndexReader, spy: Spy) -> None:
    a = mixed.vectors()
    loads = spy.loads
    assert mixed.vectors() is a and spy.loads == loads
    _, rows = mixed.bm25()
    assert a.rows is rows and a.matrix.shape == (240, mixed.embedder.dim) and a.matrix.dtype == np.float32
    assert a.has_vector.all()
    np.testing.assert_allclose(np.linalg.norm(a.matrix, axis=1), 1.0, atol=1e-5)
    with mixed.catalog.transaction() as db:
        mixed.catalog.bump_generation(db)
    # concurrent searches after the move: one of them loads, the others wait for its matrix
    out: list[VectorMatrix] = []
    threads = [threading.Thread(target=lambda: out.append(mixed.vectors())) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert spy.loads == loads + 1 and len({id(x) for x in out}) == 1
    b = out[0]
    assert b is not a and b.rows.ids == a.rows.ids
    np.testing.assert_array_equal(b.matrix, a.matrix)
    # rows follow the BM25 row order, whatever order Chroma returns vectors in
    ids = list(rows.ids)
    got = mixed.store._connect().get(ids=ids[:5], include=["embeddings"])
    at = np.argsort(b.perm)  # row -> matrix row
    for cid, v in zip(got["ids"], got["embeddings"], strict=True):
        np.testing.assert_allclose(b.matrix[at[ids.index(cid)]], np.asarray(v) / np.linalg.norm(v), atol=1e-6)
    # matrix rows are grouped by language: a one-language search multiplies one contiguous block
    langs = [rows.lang[i] for i in b.perm]
    assert langs == sorted(langs)


def test_get_vectors_keeps_the_order_asked_for(mixed: IndexReader) -> None:
    ids = sorted(mixed.store.all_ids())
    random.Random(1).shuffle(ids)
    ids.insert(7, "no-such-chunk")
    whole, found = mixed.store.get_vectors(ids)
    paged, found2 = mixed.store.get_vectors(ids, page=13)
    assert whole.shape == (241, mixed.embedder.dim) and found.sum() == 240 and not found[7]
    assert not whole[7].any()
    np.testing.assert_array_equal(whole, paged)
    np.testing.assert_array_equal(found, found2)
    one = mixed.store._connect().get(ids=[ids[20]], include=["embeddings"])["embeddings"][0]
    np.testing.assert_array_equal(whole[20], np.asarray(one, dtype=np.float32))
    empty, none = mixed.store.get_vectors(["no-such-chunk"])
    assert empty.shape == (1, 0) and not none.any()
    with pytest.raises(ValueError, match="page must be a positive"):
        mixed.store.get_vectors(ids, page=0)


def test_exact_top_k_ties_and_missing_vectors() -> None:
    ids = ["e", "b", "d", "a", "c", "f"]
    n = len(ids)
    rows = RowMeta(ids, {}, np.array(["md"] * n), np.array(["en"] * n), np.zeros(n, dtype=np.int64), [""] * n)
    m = np.array([[1, 0], [0.6, 0.8], [0.6, 0.8], [0.6, 0.8], [0, 1], [1, 0]], dtype=np.float32)
    has = np.array([True, True, True, True, True, False])  # "f" lost its vector
    rank = np.argsort(np.argsort(np.array(ids)))
    perm = np.array([5, 3, 1, 0, 2, 4])  # matrix rows in another order than rows.ids, as loaded
    vm = VectorMatrix(rows, m[perm], has, rank, perm)
    q = np.array([0.6, 0.8], dtype=np.float32)
    # three rows tie at 1.0: id order, whichever of them the cut-off keeps
    assert [i for i, _ in exact_top_k(vm, q, None, 2)] == ["a", "b"]
    assert [i for i, _ in exact_top_k(vm, q, None, 10)] == ["a", "b", "d", "c", "e"]
    assert exact_top_k(vm, q, None, 4)[3] == ("c", pytest.approx(0.8))
    allowed = np.array([True, False, True, False, False, True])
    assert [i for i, _ in exact_top_k(vm, q, allowed, 10)] == ["d", "e"]  # "f" allowed, no vector
    assert exact_top_k(vm, q * 3, allowed, 1) == [("d", pytest.approx(1.0))]  # query normalised
    assert exact_top_k(vm, q, np.zeros(n, dtype=np.bool_), 3) == []
    assert exact_top_k(vm, q, None, 0) == []
    with pytest.raises(ValueError, match="query vector has shape"):
        exact_top_k(vm, np.ones(3, dtype=np.float32), None, 1)


def test_hybrid_encodes_the_query_once_in_the_calling_thread(mixed: IndexReader, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    r = make_retriever(mixed, "hybrid", depth=10)
    threads: list[str] = []
    real = mixed.embedder.embed_query

    def embed_query(text: str) -> Any:
        threads.append(threading.current_thread().name)
        return real(text)

    monkeypatch.setattr(mixed.embedder, "embed_query", embed_query)
    query = "onboarding laptop 研修 " + str(len(mixed.languages()))  # not memoised by earlier tests
    assert r.retrieve(query, top_k=5)
    assert threads == [threading.current_thread().name]  # once, before the lists fan out
