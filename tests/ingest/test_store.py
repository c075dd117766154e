"""ChromaStore on a real on-disk Chroma (PersistentClient under tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from ingest.store import ChromaStore, chunk_metadata, date_to_int, path_prefixes, validate_collection_name
from ingest.types import Chunk

DIM = 8


def chunk(i: int, *, source: str = "hr/policies/leave.md", lang: str = "en", date: str | None = None) -> Chunk:
    return Chunk(id=f"c{i}", doc_id=f"d{i % 3}", text=f"text {i}", source=source, start=0, end=6, ordinal=i,
                 page=i if i % 2 else None, lang=lang, groups=("public",), file_type="markdown", date=date)


def unit_vectors(n: int, seed: int = 0) -> npt.NDArray[np.float32]:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)  # (n, DIM)


@pytest.fixture
def store(tmp_path: Path) -> ChromaStore:
    s = ChromaStore(tmp_path / "idx", "test-col")
    chunks = [chunk(i, lang="ja" if i >= 6 else "en", date="2026-04-01" if i < 3 else None) for i in range(10)]
    s.upsert(chunks, unit_vectors(10))
    return s


def test_upsert_count_all_ids_and_idempotent_reupsert(store: ChromaStore) -> None:
    assert store.count() == 10
    assert store.all_ids() == {f"c{i}" for i in range(10)}
    store.upsert([chunk(0)], unit_vectors(1, seed=5))  # same id: replaced, not added
    assert store.count() == 10
    store.upsert([], np.zeros((0, DIM), dtype=np.float32))
    assert store.count() == 10


def test_get_vectors_keeps_the_order_asked_and_flags_missing_ids(store: ChromaStore) -> None:
    vecs = unit_vectors(10)
    ids = ["c7", "nope", "c2", "c9", "c0"]
    got, found = store.get_vectors(ids, page=2)  # several pages
    assert got.shape == (5, DIM) and found.tolist() == [True, False, True, True, True]
    np.testing.assert_allclose(got[[0, 2, 3, 4]], vecs[[7, 2, 9, 0]], atol=1e-6)
    assert not got[1].any()
    empty, none = store.get_vectors(["x", "y"])
    assert empty.shape == (2, 0) and not none.any()
    with pytest.raises(ValueError, match="page must be a positive number of ids, got 0"):
        store.get_vectors(ids, page=0)


def test_query_returns_cosine_similarity_best_first_and_filters(store: ChromaStore) -> None:
    vecs = unit_vectors(10)
    hits = store.query(vecs[4], k=3)
    assert hits[0][0] == "c4" and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert len(store.query(vecs[4], k=50)) == 10  # k above the collection size
    ja = store.query(vecs[4], k=10, where={"lang": "ja"})
    assert {i for i, _ in ja} == {"c6", "c7", "c8", "c9"}
    dated = store.query(vecs[4], k=10, where={"date": {"$gte": 20260101}})
    assert {i for i, _ in dated} == {"c0", "c1", "c2"}
    assert store.query(vecs[4], k=0) == []


def test_delete_removes_only_the_ids_given(store: ChromaStore) -> None:
    store.delete(["c1", "c3", "never-there"])
    assert store.all_ids() == {f"c{i}" for i in range(10)} - {"c1", "c3"}
    store.delete([])
    assert store.count() == 8


def test_vectors_persist_on_disk(tmp_path: Path, store: ChromaStore) -> None:
    store.close()
    again = ChromaStore(tmp_path / "idx", "test-col")
    assert again.count() == 10 and (tmp_path / "idx" / "chroma").is_dir()
    assert again.location == str(tmp_path / "idx" / "chroma")


def test_collection_names_lists_every_collection_without_creating_one(tmp_path: Path, store: ChromaStore) -> None:
    other = ChromaStore(tmp_path / "idx", "test-col-0123abcd")
    other.upsert([chunk(0)], unit_vectors(1))
    probe = ChromaStore(tmp_path / "idx", "never-used")
    assert probe.collection_names() == ["test-col", "test-col-0123abcd"]
    assert "never-used" not in store.collection_names()


def test_reset_drops_the_collection(tmp_path: Path, store: ChromaStore) -> None:
    store.reset()
    assert "test-col" not in ChromaStore(tmp_path / "idx", "probe").collection_names()
    assert store.count() == 0  # used again: a new empty collection


def test_bad_collection_name_and_server_url_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"invalid Chroma collection name 'a b': use 3-512 characters of \[a-zA-Z0-9._-\]"):
        ChromaStore(tmp_path, "a b")
    assert validate_collection_name("ok-name_1.2") == "ok-name_1.2"
    with pytest.raises(ValueError, match=r"invalid Chroma server URL 'nohost'; expected e.g. http://127.0.0.1:8000"):
        ChromaStore(tmp_path, "ragqa", url="nohost").count()


def test_metadata_helpers() -> None:
    assert date_to_int("2026-04-01") == 20260401
    assert date_to_int("2026-04") is None and date_to_int(None) is None and date_to_int("") is None
    assert path_prefixes("hr/policies/leave.md") == ["hr/", "hr/policies/", "hr/policies/leave.md"]
    assert path_prefixes("top.md") == ["top.md"]
    meta = chunk_metadata(chunk(3, date="2026-04-01"))
    assert meta == {"doc_id": "d0", "source": "hr/policies/leave.md", "file_type": "markdown", "lang": "en",
                    "groups": ["public"], "paths": ["hr/", "hr/policies/", "hr/policies/leave.md"], "ordinal": 3,
                    "page": 3, "date": 20260401}
    assert "page" not in chunk_metadata(chunk(2)) and "date" not in chunk_metadata(chunk(2))
