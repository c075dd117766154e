"""RagqaLangChainRetriever over a real ragqa index: documents, metadata, permissions, options."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="langchain-core not installed: pip install 'ragqa[langchain]'")

from langchain_core.documents import Document
from pydantic import ValidationError

from ingest.catalog import IndexMismatchError
from ingest.settings import IndexSettings
from rag_app.adapters.langchain import RagqaLangChainRetriever
from retrieval.factory import MODES, make_retriever
from retrieval.index import IndexReader
from retrieval.types import Filters

METADATA_KEYS = {"chunk_id", "source", "page", "heading", "score", "retriever", "lang", "groups"}
ALL = 50  # more chunks than the test index holds: every visible chunk comes back


def sources(docs: list[Document]) -> list[str]:
    return [d.metadata["source"] for d in docs]


@pytest.mark.network_blocked
def test_documents_carry_the_stored_chunk_and_its_metadata(corpus: Any) -> None:
    r = RagqaLangChainRetriever(index_dir=corpus.index_dir, k=3)
    docs = r.invoke("twenty days of paid annual leave")
    assert len(docs) == 3 and sources(docs)[0] == "policies/leave.md"
    stored = IndexReader(IndexSettings(index_dir=corpus.index_dir)).chunks([d.id for d in docs if d.id])
    for rank, d in enumerate(docs, 1):
        assert d.id is not None
        assert set(d.metadata) >= METADATA_KEYS
        assert d.id == d.metadata["chunk_id"] and d.page_content == stored[d.id].text
        assert d.metadata["retriever"] == "hybrid" and d.metadata["rank"] == rank
        assert d.metadata["groups"] == ["public"] and d.metadata["lang"] == stored[d.id].lang
    assert docs[0].metadata["heading"] == "Annual leave"
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True) and all(isinstance(s, float) for s in scores)


def test_japanese_query_finds_the_japanese_document(corpus: Any) -> None:
    docs = RagqaLangChainRetriever(index_dir=corpus.index_dir, k=2).invoke("有給休暇の繰り越し")
    assert sources(docs)[0] == "ja/kyuka.md" and docs[0].metadata["lang"] == "ja"


@pytest.mark.parametrize("mode", MODES)
def test_restricted_document_needs_its_group(corpus: Any, mode: str) -> None:
    query = f"{corpus.secret_word} salary band annual leave"
    for groups in ([], ["eng"], ["public"]):
        docs = RagqaLangChainRetriever(index_dir=corpus.index_dir, mode=mode, k=ALL, groups=groups).invoke(query)
        assert docs and set(sources(docs)) <= corpus.public_sources, (mode, groups, sources(docs))
    for groups in (["hr"], ["eng", "hr"], ["*"]):
        docs = RagqaLangChainRetriever(index_dir=corpus.index_dir, mode=mode, k=ALL, groups=groups).invoke(query)
        assert sources(docs)[0] == corpus.secret_source, (mode, groups, sources(docs))
        assert docs[0].metadata["groups"] == ["hr"] and docs[0].metadata["retriever"] == mode


def test_per_call_groups_k_and_filters_override_the_fields(corpus: Any) -> None:
    r = RagqaLangChainRetriever(index_dir=corpus.index_dir, k=ALL)
    query = f"{corpus.secret_word} salary band"
    assert corpus.secret_source not in sources(r.invoke(query))
    assert sources(r.invoke(query, groups=["hr"]))[0] == corpus.secret_source
    assert corpus.secret_source not in sources(r.invoke(query)), "a per-call group must not stick"
    assert len(r.invoke(query, k=2)) == 2
    it_only = r.invoke("security policy", filters={"source_prefix": "it"})
    assert it_only and all(s.startswith("it/") for s in sources(it_only))
    ja_only = r.invoke("休暇", filters=Filters(langs=("ja",)))
    assert sources(ja_only) == ["ja/kyuka.md"]
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['top_k'\].*allowed: k, groups, filters"):
        r.invoke(query, top_k=2)


def test_ainvoke_takes_the_same_options(corpus: Any) -> None:
    r = RagqaLangChainRetriever(index_dir=corpus.index_dir, k=ALL)
    docs = asyncio.run(r.ainvoke(f"{corpus.secret_word} salary band", k=1, groups=["hr"]))
    assert sources(docs) == [corpus.secret_source]


def test_reassigning_mode_reopens_the_retriever(corpus: Any) -> None:
    r = RagqaLangChainRetriever(index_dir=corpus.index_dir, k=1)
    first = r.ragqa_retriever
    assert r.ragqa_retriever is first, "opened once, then reused"
    r.mode = "bm25"
    assert r.invoke("VPN client")[0].metadata["retriever"] == "bm25"
    with pytest.raises(ValidationError, match="unknown retrieval mode 'sparse'"):
        r.mode = "sparse"


def test_filters_field_accepts_a_dict(corpus: Any) -> None:
    filters = {"file_types": "md", "langs": ["ja"]}  # a dict, as read from JSON or a config file
    r = RagqaLangChainRetriever(index_dir=corpus.index_dir, k=ALL, filters=filters)  # type: ignore[arg-type]
    assert r.filters == Filters(file_types=("md",), langs=("ja",))
    assert sources(r.invoke("休暇")) == ["ja/kyuka.md"]


def test_a_prebuilt_ragqa_retriever_is_used_and_not_serialised(corpus: Any) -> None:
    ragqa = make_retriever(IndexReader(IndexSettings(index_dir=corpus.index_dir)), "bm25")
    r = RagqaLangChainRetriever(retriever=ragqa, k=2, groups=["hr"])
    assert r.ragqa_retriever is ragqa
    docs = r.invoke(f"{corpus.secret_word}")
    assert sources(docs)[0] == corpus.secret_source and {d.metadata["retriever"] for d in docs} == {"bm25"}
    dumped = r.model_dump()
    assert "retriever" not in dumped and dumped["k"] == 2 and dumped["groups"] == ["hr"]


def test_from_rag_reuses_the_rag_retriever(corpus: Any) -> None:
    from rag_app import RAG

    rag = RAG.from_config(index_dir=corpus.index_dir, mode="bm25")
    r = RagqaLangChainRetriever.from_rag(rag, k=1)
    assert r.ragqa_retriever is rag.retriever
    assert sources(r.invoke("VPN client multi-factor")) == ["it/vpn.md"]


def test_bad_arguments_name_the_value_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"unknown retrieval mode 'sparse'; allowed: dense, bm25, hybrid"):
        RagqaLangChainRetriever(index_dir=tmp_path, mode="sparse")
    with pytest.raises(ValidationError, match=r"k must be a positive integer .* got 0"):
        RagqaLangChainRetriever(index_dir=tmp_path, k=0)
    with pytest.raises(ValidationError, match=r"groups must be a list of group names, e.g. \['hr'\]"):
        RagqaLangChainRetriever(index_dir=tmp_path, groups="hr")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"invalid group name 'h r'"):
        RagqaLangChainRetriever(index_dir=tmp_path, groups=["h r"])
    with pytest.raises(ValidationError, match=r"unknown filter keys \['source'\]; allowed: source_prefix"):
        RagqaLangChainRetriever(index_dir=tmp_path, filters={"source": "it"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"retriever must be a ragqa Retriever .* got str"):
        RagqaLangChainRetriever(retriever="bm25")  # type: ignore[arg-type]
    r = RagqaLangChainRetriever(index_dir=tmp_path / "missing")  # cheap: nothing opens yet
    with pytest.raises(IndexMismatchError, match=r"no index at .*missing; build one with: ragqa ingest"):
        r.invoke("anything")
    with pytest.raises(ValueError, match=r"k must be a positive integer .* got -1"):
        r.invoke("anything", k=-1)
