"""Ingest and search against a real Chroma server (`chroma run`) started here on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import chroma_server

from ingest.catalog import Catalog, IndexMismatchError
from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
from ingest.store import ChromaStore
from retrieval.factory import make_retriever
from retrieval.index import IndexReader

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


def test_ingest_update_and_search_through_a_chroma_server(tmp_path: Path, chroma_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vpn.md").write_text("# VPN\n\nConnect with WireGuard to vpn.kitsune.example on port 51820.", encoding="utf-8")
    (docs / "leave.md").write_text("# 休暇\n\n年次有給休暇は入社6か月後に10日付与される。", encoding="utf-8")
    (docs / "hr.md").write_text("---\ngroups: [hr]\n---\n# Salary\n\nGrade E3 midpoint is 9,000,000 yen.", encoding="utf-8")
    s = IndexSettings(index_dir=tmp_path / "idx", embedder="hashing", chroma_url=chroma_url, collection="ragqa-test")
    r1 = Ingestor(s).run([docs])
    assert r1.files_indexed == 3 and r1.files_failed == []

    store = ChromaStore(s.index_dir, s.collection, chroma_url)
    assert store.location == chroma_url
    assert not (s.index_dir / "chroma").exists(), "vectors must go to the server, not a local store"
    n = store.count()
    assert n == r1.chunks_added

    (docs / "vpn.md").unlink()
    r2 = Ingestor(s).run([docs])
    assert r2.files_deleted == 1 and r2.chunks_deleted > 0
    assert store.count() == n - r2.chunks_deleted
    assert store.all_ids() == Catalog(s.index_dir).all_chunk_ids()

    reader = IndexReader(s)
    hits = make_retriever(reader, "dense").retrieve("年次有給休暇", top_k=5)
    assert hits and hits[0].chunk.source == "leave.md"
    assert all(h.chunk.source != "hr.md" for h in make_retriever(reader, "hybrid").retrieve("salary grade", top_k=5))
    hr = make_retriever(reader, "hybrid").retrieve("salary grade", top_k=5, groups=["hr"])
    assert hr[0].chunk.source == "hr.md"


def test_a_second_index_on_the_same_server_collection_is_refused_not_merged(tmp_path: Path, chroma_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nThe first index's only document.", encoding="utf-8")
    first = IndexSettings(index_dir=tmp_path / "one", embedder="hashing", chroma_url=chroma_url, collection="shared-x")
    r1 = Ingestor(first).run([docs])
    store = ChromaStore(first.index_dir, first.collection, chroma_url)
    n = store.count()
    assert n == r1.chunks_added > 0

    second = IndexSettings(index_dir=tmp_path / "two", embedder="hashing", chroma_url=chroma_url, collection="shared-x")
    with pytest.raises(IndexMismatchError, match=r"'shared-x' .* holds the vectors of another ragqa index .*one.*RAGQA_COLLECTION"):
        Ingestor(second).run([docs])
    assert store.count() == n and store.all_ids() == Catalog(first.index_dir).all_chunk_ids(), "the first index lost vectors"
    assert Ingestor(first).run([docs]).files_unchanged == 1  # its owner still ingests into it

    Ingestor(second).run([docs], reindex=True)  # the explicit take-over drops and rebuilds
    with pytest.raises(IndexMismatchError, match="another ragqa index"):
        Ingestor(first).run([docs])
