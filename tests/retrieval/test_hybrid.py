"""HybridRetriever: the fused order (pinned on fixed lists, hand-computed), the declared
capabilities it relies on (``QueryPreparingRetriever``, ``lexical``), the typed signals it
carries, the final visibility guard, reranking; and, on a real index, that its output is the
reciprocal rank fusion of its own lists with the cross-language credit."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from fixed_lists import Fixed

from ingest.lang import detect_lang
from ingest.types import Chunk
from retrieval.dense import DenseRetriever
from retrieval.factory import make_retriever
from retrieval.hybrid import HybridRetriever
from retrieval.index import IndexReader
from retrieval.keyword import BM25Retriever
from retrieval.permissions import normalise_groups
from retrieval.types import Filters, Hit, QueryPreparingRetriever, Retriever, is_lexical


def chunk(cid: str, lang: str, groups: tuple[str, ...] = ("public",), file_type: str = "md") -> Chunk:
    return Chunk(id=cid, doc_id=f"doc-{cid}", text=f"text of {cid}", source=f"{lang}/{cid}.{file_type}", start=0,
                 end=10, ordinal=0, lang=lang, groups=groups, file_type=file_type)


E1, E2, J1, J2 = chunk("e1", "en"), chunk("e2", "en"), chunk("j1", "ja"), chunk("j2", "ja")


@dataclass
class Dense(Fixed):
    lexical: bool = False
    prepared: list[str] = field(default_factory=list)

    def prepare(self, query: str) -> None:
        self.prepared.append(threading.current_thread().name)


@dataclass
class Lexical(Fixed):
    lexical: bool = True


def three_lists() -> tuple[Dense, Dense, Lexical]:
    """dense[en] = [e1], dense[ja] = [j1, j2], bm25 = [e2, e1]: test_fusion's hand-computed case."""
    return (Dense("dense[en]", [E1], "dense_score", [0.9]), Dense("dense[ja]", [J1, J2], "dense_score", [0.8, 0.7]),
            Lexical("bm25", [E2, E1], "bm25_score", [7.0, 3.0]))


QUERY = "vpn password server"  # English (detect_lang): the Japanese chunks are BM25's blind spots


def test_the_fused_order_is_pinned() -> None:
    assert detect_lang(QUERY) == "en"
    hits = HybridRetriever(three_lists()).retrieve(QUERY, top_k=10)
    # e1 = 1/61 + 1/62; j1 = 1/61 + credited 1/62 (ties, then id); j2 = 1/62 + credited 1/63; e2 = 1/61
    assert [h.chunk.id for h in hits] == ["e1", "j1", "j2", "e2"]
    assert [h.score for h in hits] == pytest.approx([1 / 61 + 1 / 62, 1 / 61 + 1 / 62, 1 / 62 + 1 / 63, 1 / 61])
    assert [h.rank for h in hits] == [1, 2, 3, 4] and {h.retriever for h in hits} == {"hybrid"}
    # no credit: BM25's silence sinks the Japanese chunks
    plain = HybridRetriever(three_lists(), cross_lingual=False).retrieve(QUERY, top_k=10)
    assert [h.chunk.id for h in plain] == ["e1", "e2", "j1", "j2"]
    # credited at the dense rank itself (offset 0): j1 = 2/61 beats e1, j2 = 2/62 follows it
    level = HybridRetriever(three_lists(), impute_offset=0).retrieve(QUERY, top_k=10)
    assert [h.chunk.id for h in level] == ["j1", "e1", "j2", "e2"]
    assert [h.score for h in level] == pytest.approx([2 / 61, 1 / 61 + 1 / 62, 2 / 62, 1 / 61])
    # weights scale each list: BM25 at 0 leaves the dense ranks alone (e1, j1 tie at 1/61; e2 = 0)
    weighted = HybridRetriever(three_lists(), weights=[1.0, 1.0, 0.0]).retrieve(QUERY, top_k=10)
    assert [h.chunk.id for h in weighted] == ["e1", "j1", "j2", "e2"]
    assert weighted[-1].score == 0.0


def test_the_lexical_capability_is_declared_not_guessed() -> None:
    """A retriever that does not declare ``lexical`` gets no blind spots credited, whatever its name."""
    en, ja, bm25 = three_lists()
    undeclared = Fixed("bm25", bm25.chunks, "bm25_score", bm25.scores)
    hits = HybridRetriever([en, ja, undeclared]).retrieve(QUERY, top_k=10)
    assert [h.chunk.id for h in hits] == ["e1", "e2", "j1", "j2"]
    assert not is_lexical(undeclared) and is_lexical(bm25) and not is_lexical(en)
    assert not is_lexical(HybridRetriever([bm25]))
    # declared False: no credit either
    assert [h.chunk.id for h in HybridRetriever([en, ja, Dense("x", bm25.chunks)]).retrieve(QUERY)] == [
        "e1", "e2", "j1", "j2"]


def test_a_japanese_query_credits_the_english_chunks() -> None:
    query = "給与 予算"
    assert detect_lang(query) == "ja"
    # the blind spot is e1 (dense[en] rank 1 -> credit 2), but BM25 ranked e1 itself (rank 2),
    # and a real rank wins over a credit: e1 = 1/61 + 1/62; e2, j1 = 1/61 (by id); j2 = 1/62
    hits = HybridRetriever(three_lists()).retrieve(query, top_k=10)
    assert [h.chunk.id for h in hits] == ["e1", "e2", "j1", "j2"]


def test_typed_signals_and_details_are_carried_through() -> None:
    en, _, bm25 = three_lists()
    en2 = Dense("dense[en2]", [E1], "dense_score", [0.95])
    hits = {h.chunk.id: h for h in HybridRetriever([en, en2, bm25]).retrieve(QUERY, top_k=10)}
    e1, e2 = hits["e1"], hits["e2"]
    assert e1.dense_score == 0.95 and e1.bm25_score == 3.0  # the max over the lists that measured it
    assert e2.dense_score is None and e2.bm25_score == 7.0
    assert e1.details == {"dense[en]_score": 0.9, "dense[en]_rank": 1, "dense[en2]_score": 0.95,
                          "dense[en2]_rank": 1, "bm25_score": 3.0, "bm25_rank": 2}


def test_the_query_is_prepared_once_here_while_lexical_lists_run() -> None:
    """``prepare`` runs in the calling thread, once per preparing retriever, while the lexical
    list already runs in the pool; every ``retrieve`` runs in the pool."""
    started = threading.Event()
    overlapped: list[bool] = []

    class Waiting(Dense):
        def prepare(self, query: str) -> None:
            super().prepare(query)
            overlapped.append(started.wait(timeout=10))

    class Signalling(Lexical):
        def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                     groups: Sequence[str] | None = None) -> list[Hit]:
            started.set()
            return super().retrieve(query, top_k, filters, groups)

    dense, bm25 = Waiting("dense", [E1, J1]), Signalling("bm25", [E2])
    assert isinstance(dense, QueryPreparingRetriever) and not isinstance(bm25, QueryPreparingRetriever)
    assert HybridRetriever([dense, bm25]).retrieve(QUERY, top_k=3)
    here = threading.current_thread().name
    assert dense.prepared == [here] and overlapped == [True]
    assert len(dense.calls) == len(bm25.calls) == 1
    assert dense.calls[0] != here and bm25.calls[0] != here
    # one retriever: no pool, no prepare
    single = Dense("dense", [E1])
    assert [h.chunk.id for h in HybridRetriever([single]).retrieve(QUERY)] == ["e1"]
    assert single.prepared == [] and single.calls == [here]


def test_the_final_guard_drops_what_the_caller_may_not_see() -> None:
    secret, pdf = chunk("s1", "en", groups=("hr",)), chunk("p1", "en", file_type="pdf")
    leaky = Fixed("leaky", [secret, E1, pdf, E2])
    hits = HybridRetriever([leaky]).retrieve(QUERY, top_k=10, groups=None)
    assert [h.chunk.id for h in hits] == ["e1", "p1", "e2"] and [h.rank for h in hits] == [1, 2, 3]
    hits = HybridRetriever([leaky]).retrieve(QUERY, top_k=10, groups=["hr"], filters=Filters(file_types=("md",)))
    assert [h.chunk.id for h in hits] == ["s1", "e1", "e2"]
    # top_k cuts after the guard
    assert [h.chunk.id for h in HybridRetriever([leaky]).retrieve(QUERY, top_k=1)] == ["e1"]


class Reverse:
    name = "reverse"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def rerank(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        self.seen.append(len(hits))
        return list(reversed(hits))[:top_k]


def test_the_reranker_sees_depth_candidates_and_ranks_are_renumbered() -> None:
    many = Fixed("dense", [chunk(f"e{i}", "en") for i in range(30)])
    rr = Reverse()
    hits = HybridRetriever([many], depth=20, reranker=rr).retrieve(QUERY, top_k=5)
    assert rr.seen == [20]
    assert [h.chunk.id for h in hits] == ["e19", "e18", "e17", "e16", "e15"]
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]


def test_arguments_and_empty_queries() -> None:
    with pytest.raises(ValueError, match=r"^HybridRetriever needs at least one retriever$"):
        HybridRetriever([])
    with pytest.raises(ValueError, match=r"^got 1 weights for 3 retrievers; give one per retriever$"):
        HybridRetriever(three_lists(), weights=[1.0])
    lists = three_lists()
    r = HybridRetriever(lists)
    assert r.retrieve("   ", top_k=5) == [] and r.retrieve(QUERY, top_k=0) == []
    assert all(x.calls == [] for x in lists)


# -- on a real index ---------------------------------------------------------------------------------
def reference(r: HybridRetriever, query: str, top_k: int, groups: Sequence[str] | None) -> list[tuple[str, float]]:
    """RRF of ``r``'s own lists written out from its definition: sum of w / (k + rank), and for
    BM25 a chunk in another language than the query, absent from its list, counts at its best
    dense rank + 1; ties by best real rank, then id."""
    lists = [x.retrieve(query, top_k=max(r.depth, top_k), groups=groups) for x in r.retrievers]
    qlang = detect_lang(query)
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    for w, hits in zip(r.weights, lists, strict=True):
        for h in hits:
            scores[h.chunk.id] = scores.get(h.chunk.id, 0.0) + w / (r.k + h.rank)
            best[h.chunk.id] = min(best.get(h.chunk.id, h.rank), h.rank)
    dense_rank: dict[str, int] = {}
    for x, hits in zip(r.retrievers, lists, strict=True):
        if isinstance(x, DenseRetriever):
            for h in hits:
                if h.chunk.lang != qlang:
                    dense_rank[h.chunk.id] = min(dense_rank.get(h.chunk.id, h.rank), h.rank)
    for x, w, hits in zip(r.retrievers, r.weights, lists, strict=True):
        if isinstance(x, BM25Retriever):
            present = {h.chunk.id for h in hits}
            for cid, rank in dense_rank.items():
                if cid not in present:
                    scores[cid] += w / (r.k + rank + 1)
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], kv[0]))
    return ordered[:top_k]


@pytest.mark.parametrize("groups", [None, ["hr"], ["*"]])
@pytest.mark.parametrize("query", ["salary budget", "給与 予算", "contract 契約", "travel 出張 vpn"])
def test_real_hybrid_is_the_fusion_of_its_lists(two_lang: IndexReader, query: str, groups: list[str] | None) -> None:
    r = make_retriever(two_lang, "hybrid", depth=10)
    assert isinstance(r, HybridRetriever)
    hits = r.retrieve(query, top_k=8, groups=groups)
    want = reference(r, query, 8, groups)
    assert [h.chunk.id for h in hits] == [cid for cid, _ in want]
    assert [h.score for h in hits] == pytest.approx([s for _, s in want], abs=1e-12)
    ug = normalise_groups(groups)
    assert all(ug == ("*",) or set(h.chunk.groups) & set(ug) for h in hits)
    assert all(h.dense_score is not None or h.bm25_score is not None for h in hits)
    if detect_lang(query) == "en" and groups is None:
        # the credit lets Japanese chunks into an English query's list
        assert any(h.chunk.lang == "ja" for h in hits)


def test_real_retrievers_declare_their_capabilities(two_lang: IndexReader) -> None:
    dense, bm25 = DenseRetriever(two_lang, "en"), BM25Retriever(two_lang)
    retrievers: list[Retriever] = [dense, bm25]
    assert [isinstance(x, QueryPreparingRetriever) for x in retrievers] == [True, False]
    assert [is_lexical(x) for x in retrievers] == [False, True]
