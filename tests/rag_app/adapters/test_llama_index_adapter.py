"""RagqaLlamaIndexRetriever over a real ragqa index: nodes, scores, metadata, permissions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_index.core", reason="llama-index-core not installed: pip install 'ragqa[llama-index]'")

from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from ingest.catalog import IndexMismatchError
from ingest.settings import IndexSettings
from rag_app.adapters.llama_index import RagqaLlamaIndexRetriever
from retrieval.factory import MODES, make_retriever
from retrieval.index import IndexReader

METADATA_KEYS = {"chunk_id", "source", "page", "heading", "score", "retriever", "lang", "groups"}
ALL = 50  # more chunks than the test index holds: every visible chunk comes back


def sources(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.metadata["source"] for n in nodes]


@pytest.mark.network_blocked
def test_nodes_carry_the_stored_chunk_score_and_metadata(corpus: Any) -> None:
    r = RagqaLlamaIndexRetriever(corpus.index_dir, similarity_top_k=3)
    nodes = r.retrieve("twenty days of paid annual leave")
    assert len(nodes) == 3 and sources(nodes)[0] == "policies/leave.md"
    stored = IndexReader(IndexSettings(index_dir=corpus.index_dir)).chunks([n.node.node_id for n in nodes])
    for rank, n in enumerate(nodes, 1):
        assert isinstance(n.node, TextNode) and set(n.node.metadata) >= METADATA_KEYS
        assert n.node.node_id == n.node.metadata["chunk_id"] and n.node.text == stored[n.node.node_id].text
        assert n.score == n.node.metadata["score"] and n.node.metadata["rank"] == rank
        assert n.node.metadata["retriever"] == "hybrid" and n.node.metadata["groups"] == ["public"]
    scores = [n.get_score() for n in nodes]
    assert scores == sorted(scores, reverse=True)
    # What an LLM prompt sees: the text with its source and heading, no ids, scores or groups.
    shown = nodes[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "source: policies/leave.md" in shown and "heading: Annual leave" in shown
    assert "groups" not in shown and "score" not in shown and stored[nodes[0].node.node_id].text in shown


def test_a_query_bundle_and_similarity_top_k(corpus: Any) -> None:
    r = RagqaLlamaIndexRetriever(corpus.index_dir, mode="bm25", similarity_top_k=1)
    nodes = r.retrieve(QueryBundle("VPN client multi-factor"))
    assert sources(nodes) == ["it/vpn.md"] and nodes[0].node.metadata["retriever"] == "bm25"


@pytest.mark.parametrize("mode", MODES)
def test_restricted_document_needs_its_group(corpus: Any, mode: str) -> None:
    query = f"{corpus.secret_word} salary band annual leave"
    for groups in ((), ["eng"], ["public"]):
        nodes = RagqaLlamaIndexRetriever(corpus.index_dir, mode=mode, similarity_top_k=ALL, groups=groups).retrieve(query)
        assert nodes and set(sources(nodes)) <= corpus.public_sources, (mode, groups, sources(nodes))
    for groups in (["hr"], ["*"]):
        nodes = RagqaLlamaIndexRetriever(corpus.index_dir, mode=mode, similarity_top_k=ALL, groups=groups).retrieve(query)
        assert sources(nodes)[0] == corpus.secret_source and nodes[0].node.metadata["groups"] == ["hr"]


def test_for_groups_shares_the_opened_index(corpus: Any) -> None:
    public = RagqaLlamaIndexRetriever(corpus.index_dir, similarity_top_k=ALL)
    hr = public.for_groups(["hr"])
    assert hr.ragqa_retriever is public.ragqa_retriever and hr.similarity_top_k == ALL
    query = f"{corpus.secret_word} salary band"
    assert sources(hr.retrieve(query))[0] == corpus.secret_source
    assert corpus.secret_source not in sources(public.retrieve(query))


def test_aretrieve_and_filters(corpus: Any) -> None:
    r = RagqaLlamaIndexRetriever(corpus.index_dir, similarity_top_k=ALL, filters={"source_prefix": "it"})
    nodes = asyncio.run(r.aretrieve("security policy"))
    assert nodes and all(s.startswith("it/") for s in sources(nodes))


def test_a_prebuilt_ragqa_retriever_is_used(corpus: Any) -> None:
    ragqa = make_retriever(IndexReader(IndexSettings(index_dir=corpus.index_dir)), "dense")
    r = RagqaLlamaIndexRetriever(retriever=ragqa, similarity_top_k=2)
    assert r.ragqa_retriever is ragqa
    assert {n.node.metadata["retriever"] for n in r.retrieve("laptop encryption")} == {"dense"}


def test_bad_arguments_name_the_value_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown retrieval mode 'sparse'; allowed: dense, bm25, hybrid"):
        RagqaLlamaIndexRetriever(tmp_path, mode="sparse")
    with pytest.raises(ValueError, match=r"similarity_top_k must be a positive integer .* got 0"):
        RagqaLlamaIndexRetriever(tmp_path, similarity_top_k=0)
    with pytest.raises(ValueError, match=r"invalid group name 'h r'"):
        RagqaLlamaIndexRetriever(tmp_path, groups=["h r"])
    with pytest.raises(TypeError, match=r"retriever must be a ragqa Retriever .* got str"):
        RagqaLlamaIndexRetriever(retriever="bm25")  # type: ignore[arg-type]
    r = RagqaLlamaIndexRetriever(tmp_path / "missing")  # cheap: nothing opens yet
    with pytest.raises(IndexMismatchError, match=r"no index at .*missing; build one with: ragqa ingest"):
        r.retrieve("anything")
