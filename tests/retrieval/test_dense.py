"""Dense retrieval: the unfiltered over-fetch + post-filter returns what the filtered Chroma query
returns, falls back to it when too few candidates are visible, and one hybrid search makes one
unfiltered Chroma query for all its per-language lists.

Real pipeline (real Chroma, catalog, BM25) with the hashing embedder; each document is one chunk.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
from retrieval.dense import DenseRetriever, overfetch
from retrieval.factory import make_retriever
from retrieval.hybrid import HybridRetriever
from retrieval.index import IndexReader
from retrieval.permissions import chroma_where, is_visible, matches_filters, normalise_groups, to_hits
from retrieval.types import Filters

EN = ["salary", "budget", "vpn", "leave", "password", "server", "plan", "audit", "travel", "laptop",
      "policy", "expense", "holiday", "network", "backup", "invoice", "contract", "meeting"]
JA = ["給与", "予算", "休暇", "申請", "規程", "出張", "経費", "会議", "契約", "請求書", "承認", "研修"]


@dataclass
class Spy:
    """Records the ``where`` of every ``ChromaStore.query`` call."""

    calls: list[dict[str, Any] | None] = field(default_factory=list)

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
    from ingest.store import ChromaStore

    s = Spy()
    real = ChromaStore.query

    def query(self: ChromaStore, vector: Any, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        s.calls.append(where)
        return real(self, vector, k, where=where)

    monkeypatch.setattr(ChromaStore, "query", query)
    yield s


def reference(reader: IndexReader, query: str, k: int, filters: Filters | None, groups: Sequence[str] | None,
              lang: str | None = None) -> list[tuple[str, float]]:
    """Today's behaviour: the filtered Chroma query, then the final guard."""
    ug = normalise_groups(groups)
    if lang is not None:
        filters = replace(filters or Filters(), langs=(lang,))
    vec = reader.embed_query(query)
    found = reader.store.query(vec, k, where=chroma_where(ug, filters))
    return [(h.chunk.id, h.score) for h in to_hits(found, reader.chunks([i for i, _ in found]), ug, filters, "dense")]


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


def test_overfetch() -> None:
    assert overfetch(10) == 110 and overfetch(50) == 200 and overfetch(1) == 101


@pytest.mark.parametrize("groups", [None, ["hr"], ["*"], ["exec", "hr"]])
def test_equals_the_filtered_query_when_most_chunks_are_visible(mixed: IndexReader, spy: Spy,
                                                                 groups: list[str] | None) -> None:
    for lang in (None, "en", "ja"):
        r = DenseRetriever(mixed, lang)
        for q in QUERIES:
            for k in (1, 5, 20):
                spy.calls.clear()
                hits = r.retrieve(q, top_k=k, groups=groups)
                took_fallback = spy.filtered > 0
                got = [(h.chunk.id, h.score) for h in hits]
                assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
                check(got, reference(mixed, q, k, None, groups, lang), lang, q)
                assert len(got) == k
                if lang is None:  # >= 60 % of the chunks are visible: the candidates suffice
                    assert not took_fallback, (groups, q, k)


def test_a_rare_group_still_gets_its_one_chunk(rare: IndexReader, spy: Spy) -> None:
    rare_id = next(c.id for c in rare.catalog.iter_chunks() if c.groups == ("rare",))
    r = DenseRetriever(rare)
    # top-101 of 151 by cosine are all "hr" chunks (the rare one shares no n-gram with the query)
    hits = r.retrieve("salary budget vpn", top_k=1, groups=["rare"])
    assert [h.chunk.id for h in hits] == [rare_id]
    assert spy.unfiltered == 1 and spy.filtered == 1, "expected the filtered fallback"
    same([(h.chunk.id, h.score) for h in hits], reference(rare, "salary budget vpn", 1, None, ["rare"]))

    spy.calls.clear()
    hits = r.retrieve("salary budget vpn", top_k=5, groups=["rare"])
    assert [h.chunk.id for h in hits] == [rare_id]  # fewer than k exist: not padded with others
    assert spy.filtered == 1

    # over-fetch covers the whole collection (overfetch(50) = 200 >= 151): no fallback needed
    spy.calls.clear()
    hits = r.retrieve("salary budget vpn", top_k=50, groups=["rare"])
    assert [h.chunk.id for h in hits] == [rare_id]
    assert spy.unfiltered == 1 and spy.filtered == 0

    assert r.retrieve("salary budget vpn", top_k=5, groups=None) == []  # nothing is public
    assert r.retrieve("salary budget vpn", top_k=50, groups=None) == []


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
    for groups in (None, ["hr"]):
        ug = normalise_groups(groups)
        for lang in (None, "en", "ja"):
            r = DenseRetriever(mixed, lang)
            for q in QUERIES[:4]:
                for k in (3, 20):
                    hits = r.retrieve(q, top_k=k, filters=f, groups=groups)
                    for h in hits:
                        assert is_visible(h.chunk.groups, ug) and matches_filters(h.chunk, f)
                        assert lang is None or h.chunk.lang == lang
                    if lang is not None and f.langs and lang not in f.langs:
                        assert hits == []
                        continue
                    list_lang = lang or (f.langs[0] if len(f.langs) == 1 else None)
                    check([(h.chunk.id, h.score) for h in hits], reference(mixed, q, k, f, groups, lang), list_lang, q)
    assert spy.filtered > 0 or f != FILTERS[5], "the one-month filter should need the fallback"


def test_one_hybrid_search_makes_one_unfiltered_query(mixed: IndexReader, spy: Spy) -> None:
    r = make_retriever(mixed, "hybrid", depth=10)
    assert isinstance(r, HybridRetriever)
    dense = [x for x in r.retrievers if isinstance(x, DenseRetriever)]
    assert sorted(str(x.lang) for x in dense) == ["en", "ja"]
    # queries in both languages: with the hashing embedder an English query has (almost) no
    # Japanese chunk among its nearest candidates, which would send dense[ja] to the fallback
    for q in ("laptop backup 会議", "研修 承認 meeting vpn"):
        spy.calls.clear()
        hits = r.retrieve(q, top_k=10, groups=None)
        assert hits and all(h.chunk.groups == ("public",) for h in hits)
        # dense[en] and dense[ja] ran concurrently and shared one Chroma call; no fallback
        assert spy.calls == [None]
        # each list is what its own filtered query gives
        for d in dense:
            got = [(h.chunk.id, h.score) for h in d.retrieve(q, top_k=10)]
            check(got, reference(mixed, q, 10, None, None, d.lang), d.lang, "contract 契約")


def test_memo_follows_the_catalog_generation(mixed: IndexReader, spy: Spy) -> None:
    vec = mixed.embed_query("expense holiday")
    a = mixed.nearest(vec, 30)
    b = mixed.nearest(vec, 30)
    assert b is a and spy.unfiltered == 1
    assert len(a.found) == 30 and not a.complete and set(a.chunks) == {i for i, _ in a.found}
    with mixed.catalog.transaction() as db:  # what an ingest by another process does at its end
        mixed.catalog.bump_generation(db)
    c = mixed.nearest(vec, 30)
    assert spy.unfiltered == 2 and c.found == a.found
    assert mixed.nearest(vec, 500).complete and len(mixed.nearest(vec, 500).found) == 240
