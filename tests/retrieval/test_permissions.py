"""No retriever, fused list or reranker ever returns a chunk outside the caller's groups.

Property-based: random documents with random groups are ingested through the real pipeline
(real Chroma, real BM25), and random callers with random groups, queries, filters and modes
query them. The hashing embedder keeps each index build to about a second.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
from retrieval.factory import make_retriever
from retrieval.hybrid import HybridRetriever
from retrieval.index import IndexReader
from retrieval.permissions import chroma_where, is_visible, matches_filters, normalise_groups, parse_filters
from retrieval.types import Filters, Hit

GROUPS = ["hr", "finance", "eng", "exec", "sales"]
WORDS = ["salary", "budget", "vpn", "leave", "給与", "予算", "休暇", "password", "server", "plan"]


def build_index(root: Path, index: Path, docs: Sequence[tuple[str, tuple[str, ...], str]]) -> IndexReader:
    for name, groups, text in docs:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        if groups != ("public",):
            Path(str(p) + ".meta.json").write_text(
                json.dumps({"groups": list(groups), "date": f"2026-0{1 + len(name) % 9}-01"}), encoding="utf-8")
    s = IndexSettings(index_dir=index, embedder="hashing", chunk_tokens=48, chunk_overlap=4)
    report = Ingestor(s).run([root])
    assert report.files_failed == [], report.files_failed
    return IndexReader(s)


def random_docs(seed: int, n: int = 40) -> list[tuple[str, tuple[str, ...], str]]:
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        k = rnd.choice([0, 0, 1, 1, 2])
        groups = tuple(sorted(rnd.sample(GROUPS, k))) or ("public",)
        words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 60)))
        folder = rnd.choice(["a", "b", "a/c"])
        ext = rnd.choice(["md", "txt"])
        docs.append((f"{folder}/doc{i}.{ext}", groups, f"Document {i}. {words}"))
    return docs


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> IndexReader:
    base = tmp_path_factory.mktemp("perm")
    return build_index(base / "docs", base / "idx", random_docs(7))


def test_the_rule() -> None:
    assert normalise_groups(None) == ("public",)
    assert normalise_groups(["hr", "hr"]) == ("hr", "public")
    assert normalise_groups(["*"]) == ("*",)
    assert is_visible(("hr",), ("hr", "public")) and not is_visible(("hr",), ("public",))
    assert is_visible(("hr",), ("*",))
    with pytest.raises(ValueError, match="invalid group name 'h r'"):
        normalise_groups(["h r"])
    assert chroma_where(("public",), None) == {"groups": {"$contains": "public"}}
    assert chroma_where(("*",), None) is None


def _check(hits: Sequence[Hit], user: Sequence[str], f: Filters | None) -> None:
    ug = normalise_groups(user)
    ids = [h.chunk.id for h in hits]
    assert len(ids) == len(set(ids)), "duplicate chunks in one result list"
    for h in hits:
        assert is_visible(h.chunk.groups, ug), f"{h.chunk.source} {h.chunk.groups} leaked to {ug}"
        assert matches_filters(h.chunk, f)


class _ShuffleReranker:
    """A reranker that reverses the list: permissions must survive any reordering."""

    name = "reverse"

    def rerank(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        out = list(reversed(hits))
        return out[:top_k] if top_k else out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    user=st.lists(st.sampled_from([*GROUPS, "nobody"]), max_size=3),
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
    mode=st.sampled_from(["dense", "bm25", "hybrid", "hybrid+rerank"]),
    top_k=st.integers(min_value=1, max_value=30),
    source=st.sampled_from([None, "a", "a/c", "b"]),
    ftype=st.sampled_from([None, "md", "txt"]),
    dated=st.booleans(),
)
def test_no_retriever_returns_a_chunk_outside_the_callers_groups(
    reader: IndexReader, user: list[str], words: list[str], mode: str, top_k: int, source: str | None,
    ftype: str | None, dated: bool,
) -> None:
    f = parse_filters(source=source, file_types=ftype, date_from="2026-03-01" if dated else None)
    if mode == "hybrid+rerank":
        r = make_retriever(reader, "hybrid")
        assert isinstance(r, HybridRetriever)
        r = HybridRetriever(r.retrievers, depth=20, reranker=_ShuffleReranker())
    else:
        r = make_retriever(reader, mode, depth=20)
    hits = r.retrieve(" ".join(words), top_k=top_k, filters=f, groups=user)
    _check(hits, user, f)


def test_each_group_sees_exactly_its_documents(reader: IndexReader) -> None:
    """Completeness too: BM25 returns every visible chunk with the term, and nothing else."""
    all_chunks = list(reader.catalog.iter_chunks())
    for user in ([], ["hr"], ["finance", "eng"], ["*"]):
        ug = normalise_groups(user)
        visible = {c.id for c in all_chunks if is_visible(c.groups, ug) and "document" in c.text.lower()}
        hits = make_retriever(reader, "bm25").retrieve("document", top_k=10_000, groups=user)
        assert {h.chunk.id for h in hits} == visible


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_random_corpora_never_leak(tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    base = tmp_path_factory.mktemp(f"perm{seed}")
    r = build_index(base / "docs", base / "idx", random_docs(seed, n=12))
    rnd = random.Random(seed)
    for _ in range(10):
        user = rnd.sample(GROUPS, rnd.randint(0, 2))
        q = " ".join(rnd.sample(WORDS, 2))
        for mode in ("dense", "bm25", "hybrid"):
            _check(make_retriever(r, mode).retrieve(q, top_k=50, groups=user), user, None)
    r.close()


def test_a_leaky_backend_is_caught_by_the_final_check(reader: IndexReader) -> None:
    """Defence in depth: even if a backend ignored the groups, the hybrid layer drops the chunk."""

    class Leaky:
        name = "leaky"

        def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                     groups: Sequence[str] | None = None) -> list[Hit]:
            return [Hit(chunk=c, score=1.0, retriever="leaky", rank=i + 1)
                    for i, c in enumerate(reader.catalog.iter_chunks())][:top_k]

    hits = HybridRetriever([Leaky()]).retrieve("x", top_k=1000, groups=[])
    assert hits and all(h.chunk.groups == ("public",) for h in hits)
    restricted = [c for c in reader.catalog.iter_chunks() if c.groups != ("public",)]
    assert restricted, "the random corpus should contain restricted chunks"
    leaked = replace(Hit(chunk=restricted[0], score=1.0, retriever="x"))
    assert not is_visible(leaked.chunk.groups, normalise_groups([]))
