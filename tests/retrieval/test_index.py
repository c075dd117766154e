"""IndexReader over real small indexes: opening and its errors, the BM25 view per catalog
generation (and its reload while an ingest replaces the files), row masks, the statistics the
answer side reads, and many threads searching one reader while another thread ingests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_index import build_index, index_settings, two_language_docs, write_docs

from ingest.catalog import IndexMismatchError
from ingest.embedders import get_embedder
from ingest.keyword import KeywordIndex
from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
from retrieval.bm25_view import load_bm25_view
from retrieval.factory import make_retriever
from retrieval.index import IndexReader
from retrieval.permissions import normalise_groups
from retrieval.types import Filters
from retrieval.visibility import VisibilityRule


def test_a_missing_index_names_the_ingest_command(tmp_path: Path) -> None:
    reader = IndexReader(IndexSettings(index_dir=tmp_path / "none"))  # cheap: opens nothing yet
    with pytest.raises(IndexMismatchError, match=rf"^no index at {tmp_path / 'none'}; build one with: "
                                                 rf"ragqa ingest PATH --index {tmp_path / 'none'}$"):
        reader.catalog  # noqa: B018 - the property opens the catalog


def test_another_embedder_is_refused_with_the_reindex_command(two_lang: IndexReader) -> None:
    other = get_embedder("e5")  # constructing it loads nothing
    reader = IndexReader(two_lang.settings, embedder=other)
    with pytest.raises(IndexMismatchError, match=r"was built with embedder 'ragqa/hashing-ngram-v1', not .*"
                                                 r"ragqa ingest PATH --index .* --reindex --embedder <spec>$"):
        reader.embedder  # noqa: B018
    assert two_lang.embedder.model_id == "ragqa/hashing-ngram-v1"


def test_parts_open_once_when_threads_race(two_lang: IndexReader) -> None:
    reader = IndexReader(two_lang.settings)
    got: list[tuple[Any, ...]] = []
    barrier = threading.Barrier(8)

    def open_all() -> None:
        barrier.wait()
        got.append((reader.catalog, reader.store, reader.embedder, reader.analyzer))

    run_threads(open_all, 8)
    assert len(got) == 8 and all(all(a is b for a, b in zip(g, got[0], strict=True)) for g in got)
    reader.close()


def test_languages_chunks_and_doc_freq(two_lang: IndexReader) -> None:
    assert two_lang.languages() == ["en", "ja"]  # 24 each: ties in language order
    every = list(two_lang.catalog.iter_chunks())
    assert len(every) == 48
    some = [c.id for c in every[:5]]
    assert set(two_lang.chunks([*some, "no-such-id"])) == set(some)
    terms = ["salary", "budget", "給与", "absent-term"]
    df, n = two_lang.doc_freq([t for q in terms for t in two_lang.analyzer.tokenize(q)] + ["absent-term"])
    assert n == 48
    for term in ("salary", "給与"):
        (tok,) = two_lang.analyzer.tokenize(term)
        assert df[tok] == sum(tok in two_lang.analyzer.tokenize(c.text) for c in every) > 0
    assert df.get("absent-term", 0) == 0


def test_the_bm25_view_follows_the_generation(tmp_path: Path) -> None:
    reader = build_index(tmp_path, two_language_docs(12))
    bm25, rows = reader.bm25()
    assert reader.bm25() == (bm25, rows)  # same objects while nothing moved
    assert sorted(rows.ids) == sorted(c.id for c in reader.catalog.iter_chunks())
    with reader.catalog.transaction() as db:
        reader.catalog.bump_generation(db)
    bm25_2, rows_2 = reader.bm25()
    assert bm25_2 is not bm25 and rows_2 is not rows and rows_2.ids == rows.ids
    assert reader.vectors().rows is rows_2  # the matrix follows the rows
    reader.close()


def test_a_load_that_meets_an_ingest_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = build_index(tmp_path, two_language_docs(12))
    cat = reader.catalog
    real = KeywordIndex.load
    failures = [1]

    def load(self: KeywordIndex, catalog: Any) -> Any:
        if failures:  # what another process's ingest does mid-load: new generation, files moved aside
            failures.pop()
            with catalog.transaction() as db:
                catalog.bump_generation(db)
            raise FileNotFoundError("no BM25 index at ...: bm25_meta.json is missing; rebuild the index")
        return real(self, catalog)

    monkeypatch.setattr(KeywordIndex, "load", load)
    before = cat.generation()
    view = load_bm25_view(reader.settings.index_dir, cat)
    assert view.generation == before + 1 == cat.generation() and len(view.rows.ids) == 12

    # the same error without an ingest behind it is the caller's to see
    def broken(self: KeywordIndex, catalog: Any) -> Any:
        raise FileNotFoundError("no BM25 index")

    monkeypatch.setattr(KeywordIndex, "load", broken)
    with pytest.raises(FileNotFoundError, match="no BM25 index"):
        load_bm25_view(reader.settings.index_dir, cat)
    reader.close()


@pytest.mark.parametrize("groups", [None, ["hr"], ["*"], ["nobody"]])
@pytest.mark.parametrize("f", [None, Filters(langs=("ja",)), Filters(source_prefix="a", date_from="2025-06-01"),
                               Filters(file_types=("txt",), date_to="2025-03-31")], ids=repr)
def test_masks_are_the_rule_over_the_catalog_rows(two_lang: IndexReader, groups: list[str] | None,
                                                  f: Filters | None) -> None:
    ug = normalise_groups(groups)
    _, rows = two_lang.bm25()
    mask = two_lang.row_mask(rows, ug, f)
    assert two_lang.row_mask(rows, ug, f) is mask  # memoised for these rows
    allowed = two_lang.allowed_mask(rows, ug, f)
    chunks = two_lang.chunks(rows.ids)
    rule = VisibilityRule.of(ug, f)
    want = [rule.allows(chunks[cid]) for cid in rows.ids]
    for m in (mask, allowed):
        assert (m.tolist() if m is not None else [True] * len(rows.ids)) == want
    assert (mask is None) == (ug == ("*",) and f is None)


def test_close_then_reuse(tmp_path: Path) -> None:
    reader = build_index(tmp_path, two_language_docs(8))
    first = reader.catalog
    reader.close()
    assert reader.catalog is not first and reader.catalog.chunk_count() == 8
    reader.close()


def run_threads(target: Callable[[], None], n: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)


def _wait_for_searches_at(generations: int, seen: set[int], timeout_s: float = 60.0) -> None:
    """Until the searches have run at ``generations`` distinct catalog generations: on a busy
    machine one search can outlast a whole ingest batch, and the next batch would move the
    generation past it unseen."""
    deadline = time.monotonic() + timeout_s
    while len(seen) < generations:
        assert time.monotonic() < deadline, f"searches ran at {sorted(seen)} only, after {timeout_s} s"
        time.sleep(0.01)


def test_eight_searchers_and_an_ingest_share_one_reader(tmp_path: Path) -> None:
    """8 threads search one reader (hybrid, dense, BM25; callers in different groups) while another
    thread ingests three more batches, each moving the catalog generation. No search fails or
    shows a chunk outside its caller's groups, and the reader ends on the last generation."""
    reader = build_index(tmp_path, two_language_docs(24))
    start_gen = reader.catalog.generation()
    modes = ["hybrid", "dense", "bm25", "hybrid"]
    callers: list[list[str] | None] = [None, ["hr"], None, ["*"]]
    errors: list[BaseException] = []
    searches = [0] * 8
    seen: set[int] = set()  # catalog generations the searches ran at
    stop = threading.Event()

    def searcher(i: int) -> None:
        r = make_retriever(reader, modes[i % 4], depth=10)
        ug = normalise_groups(callers[i % 4])
        queries = ["salary budget", "給与 予算", "zebra travel", "契約 contract"]
        try:
            while not stop.is_set():
                seen.add(reader.catalog.generation())
                hits = r.retrieve(queries[searches[i] % 4], top_k=5, groups=callers[i % 4])
                assert all(ug == ("*",) or set(h.chunk.groups) & set(ug) for h in hits), hits
                assert len({h.chunk.id for h in hits}) == len(hits)
                searches[i] += 1
        except BaseException as e:
            errors.append(e)

    def ingest() -> None:
        try:
            for batch in range(3):
                write_docs(tmp_path / "docs", [(f"new/zebra{batch}-{j}.md", {"groups": ["hr"] if j % 2 else ["public"]},
                                                f"Zebra {batch} {j}: zebra travel budget") for j in range(4)])
                report = Ingestor(index_settings(tmp_path)).run([tmp_path / "docs"])
                assert report.files_failed == [], report.files_failed
                _wait_for_searches_at(batch + 2, seen)  # the next batch waits for one at this generation
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    ingester = threading.Thread(target=ingest)
    ingester.start()
    ingester.join(timeout=300)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not ingester.is_alive() and not any(t.is_alive() for t in threads)
    assert errors == [], errors[:3]
    assert all(n > 0 for n in searches), searches
    assert len(seen) >= 3, f"the searches should span the ingest's generations, saw {sorted(seen)}"
    assert reader.catalog.generation() >= start_gen + 3
    # the shared reader now serves the last generation: all 12 new chunks, to the right callers
    hits = make_retriever(reader, "bm25").retrieve("zebra", top_k=50, groups=["hr"])
    assert len({h.chunk.source for h in hits if h.chunk.source.startswith("new/")}) == 12
    public = make_retriever(reader, "bm25").retrieve("zebra", top_k=50)
    assert len(public) == 6 and all(h.chunk.groups == ("public",) for h in public)
    _, rows = reader.bm25()
    assert reader.vectors().rows is rows and len(rows.ids) == 36
    assert np.count_nonzero(reader.vectors().has_vector) == 36
    reader.close()
