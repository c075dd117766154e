"""BM25-mined hard negatives: which hit is picked, what is never picked, determinism, batching,
and a real (tiny) MiniLM training run with triplets."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ingest.types import Chunk
from retrieval.training.hard_negatives import HardNegativeConfig, bm25_search, mine_hard_negatives
from retrieval.training.pairs import Pair, build_pairs, no_duplicate_batches


def _chunk(cid: str, doc: str, text: str, ordinal: int = 0) -> Chunk:
    return Chunk(id=cid, doc_id=doc, text=text, source=f"{doc}.md", start=0, end=len(text), ordinal=ordinal)


POOL = {c.id: c for c in [
    _chunk("a0", "A", "The crater collects ash after each eruption of the volcano."),
    _chunk("a1", "A", "Crater walls of the volcano hold ash for years.", 1),
    _chunk("b0", "B", "A volcano crater is studied by geologists who measure ash."),
    _chunk("b1", "B", "Lava from the volcano reaches the sea within 40 minutes.", 1),
    _chunk("c0", "C", "Bread dough rises in a warm oven."),
    _chunk("d0", "D", "Crater lakes form when a volcano sleeps."),
]}
# BM25 for "volcano crater ash": positive first, then its own document, then the rest
HITS = [("a0", 9.0), ("a1", 8.0), ("b0", 7.0), ("b1", 5.0), ("d0", 4.0)]


def _search(
    hits: Sequence[tuple[str, float]] = tuple(HITS),
) -> tuple[Callable[[str], list[tuple[str, float]]], list[str]]:
    calls: list[str] = []

    def search(query: str) -> list[tuple[str, float]]:
        calls.append(query)
        return list(hits)

    return search, calls


def _pair(kind: str = "heading", answer: str = "", relevant: tuple[str, ...] = ("a0",)) -> Pair:
    return Pair("volcano crater ash", POOL["a0"].text, relevant, "A", kind, "en", answer)


def test_default_picks_the_best_hit_outside_the_positive_and_its_document() -> None:
    search, calls = _search()
    [neg] = mine_hard_negatives([_pair()], search, POOL)
    assert neg is not None
    assert (neg.chunk_id, neg.bm25_rank, neg.score) == ("b0", 3, 7.0)
    assert neg.passage == POOL["b0"].embedding_text()
    assert calls == ["volcano crater ash"]


def test_same_doc_is_allowed_only_for_synthetic_pairs() -> None:
    search, _ = _search()
    cfg = HardNegativeConfig(same_doc=True)
    heading, gold = mine_hard_negatives([_pair("heading"), _pair("gold", answer="geysers")], search, POOL, config=cfg)
    assert heading is not None and heading.chunk_id == "a1"
    assert gold is not None and gold.chunk_id == "b0"  # a gold question's document may hold another answer


def test_never_picks_a_relevant_chunk_or_a_passage_holding_the_answer() -> None:
    search, _ = _search()
    cfg = HardNegativeConfig(same_doc=True)
    [neg] = mine_hard_negatives([_pair("heading", relevant=("a0", "a1"))], search, POOL, config=cfg)
    assert neg is not None and neg.chunk_id == "b0"
    [gold] = mine_hard_negatives([_pair("gold", answer="geologists")], search, POOL)
    assert gold is not None and gold.chunk_id == "b1"  # b0 holds the answer: likely an unlabelled positive
    # "４０ minutes" (full-width digits) is in b1 once NFKC-normalised: usable hits are b0, d0
    [gold2] = mine_hard_negatives([_pair("gold", answer="４０ minutes")], search, POOL, config=HardNegativeConfig(skip=1))
    assert gold2 is not None and gold2.chunk_id == "d0"
    off = HardNegativeConfig(exclude_answer=False)
    [kept] = mine_hard_negatives([_pair("gold", answer="geologists")], search, POOL, config=off)
    assert kept is not None and kept.chunk_id == "b0"


def test_ict_pairs_skip_passages_that_contain_the_query_sentence() -> None:
    sentence = "Crater walls of the volcano hold ash for years."
    pool = {**POOL, "e0": _chunk("e0", "E", "Overlap copy. " + sentence)}
    search, _ = _search([("a0", 9.0), ("e0", 8.5), ("b0", 7.0)])
    p = Pair(sentence, POOL["a0"].text, ("a0",), "A", "ict", "en")
    [neg] = mine_hard_negatives([p], search, pool)
    assert neg is not None and neg.chunk_id == "b0"


def test_skip_and_window_choose_further_down_and_are_deterministic() -> None:
    search, _ = _search()
    [skipped] = mine_hard_negatives([_pair()], search, POOL, config=HardNegativeConfig(skip=1))
    assert skipped is not None and skipped.chunk_id == "b1"  # usable hits: b0, b1, d0
    cfg = HardNegativeConfig(window=3)
    pairs = [Pair(f"volcano crater ash {i}", POOL["a0"].text, ("a0",), "A", "heading", "en") for i in range(40)]
    a = mine_hard_negatives(pairs, search, POOL, config=cfg, seed=3)
    assert a == mine_hard_negatives(pairs, search, POOL, config=cfg, seed=3)
    picked = {n.chunk_id for n in a if n is not None}
    assert picked == {"b0", "b1", "d0"}  # 40 seeded draws from a window of 3 cover it
    assert a != mine_hard_negatives(pairs, search, POOL, config=cfg, seed=4)


def test_no_usable_hit_gives_none_and_pool_limits_candidates() -> None:
    search, _ = _search([("a0", 9.0), ("a1", 8.0), ("x9", 7.0)])  # x9 outside the pool (held-out document)
    assert mine_hard_negatives([_pair()], search, POOL) == [None]
    search2, _ = _search()
    assert mine_hard_negatives([_pair()], search2, POOL, config=HardNegativeConfig(skip=3)) == [None]


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="skip"):
        HardNegativeConfig(skip=-1)
    with pytest.raises(ValueError, match="window"):
        HardNegativeConfig(window=0)
    with pytest.raises(ValueError, match="depth"):
        HardNegativeConfig(skip=40, window=20, depth=50)


def test_batches_keep_triplets_apart_and_never_hold_a_negative_that_is_a_positive() -> None:
    chunks = list(POOL.values())
    pairs = [Pair(f"question {i} about {c.id}", c.text, (c.id,), c.doc_id, "heading", "en")
             for i in range(4) for c in chunks]
    # each pair's negative: the next chunk in the pool, which is another pair's positive; some have none
    ids = list(POOL)
    negatives: list[tuple[str, str] | None] = [
        None if i % 5 == 0 else (ids[(ids.index(p.chunk_id) + 1) % len(ids)], POOL[ids[(ids.index(p.chunk_id) + 1) % len(ids)]].text)
        for i, p in enumerate(pairs)
    ]
    batches = no_duplicate_batches(pairs, 4, seed=0, negatives=negatives)
    assert sorted(i for b in batches for i in b) == list(range(len(pairs)))
    for b in batches:
        has = {negatives[i] is not None for i in b}
        assert len(has) == 1  # all triplets or all pairs
        positives = {c for i in b for c in pairs[i].relevant}
        negs = {n[0] for i in b if (n := negatives[i]) is not None}
        assert not positives & negs
        assert len(positives) == len(b)
    assert no_duplicate_batches(pairs, 4, seed=0, negatives=negatives) == batches
    assert no_duplicate_batches(pairs, 4, seed=0) == no_duplicate_batches(pairs, 4, seed=0, negatives=None)
    with pytest.raises(ValueError, match="aligned"):
        no_duplicate_batches(pairs, 4, seed=0, negatives=negatives[:-1])


def _index_chunks(index: Path) -> list[Chunk]:
    from ingest.catalog import Catalog

    cat = Catalog(index)
    try:
        return list(cat.iter_chunks())
    finally:
        cat.close()


def test_mining_on_a_real_bm25_index(hashing_index: Path) -> None:
    chunks = _index_chunks(hashing_index)
    pool = {c.id: c for c in chunks}
    pairs = build_pairs(chunks, seed=0)
    search, reader = bm25_search(hashing_index, list(pool), depth=50)
    try:
        negs = mine_hard_negatives(pairs, search, pool, seed=0)
        assert negs == mine_hard_negatives(pairs, search, pool, seed=0)
        found = [(p, n) for p, n in zip(pairs, negs, strict=True) if n is not None]
        assert len(found) >= 0.8 * len(pairs)
        for p, n in found:
            neg_chunk = pool[n.chunk_id]
            assert n.chunk_id not in p.relevant and neg_chunk.doc_id != p.doc_id
            assert n.score > 0 and n.bm25_rank >= 1
            # it is the best-scoring hit of another document: nothing from other documents scores higher
            others = [(cid, s) for cid, s in search(p.query) if pool[cid].doc_id != p.doc_id and cid not in p.relevant]
            assert n.score == max(s for _, s in others)
        # a lexical neighbour: an English query gets an English negative, a Japanese one a Japanese one
        assert all(pool[n.chunk_id].lang == p.lang for p, n in found)
        # held-out documents can be kept out of the pool entirely
        held = {c.doc_id for c in chunks if "sushi" in c.source}
        small = {cid: c for cid, c in pool.items() if c.doc_id not in held}
        search2, reader2 = bm25_search(hashing_index, list(small), depth=50)
        try:
            negs2 = mine_hard_negatives(pairs, search2, small, seed=0)
        finally:
            reader2.close()
        assert all(small[n.chunk_id].doc_id not in held for n in negs2 if n is not None)
    finally:
        reader.close()


@pytest.mark.slow
def test_tiny_minilm_run_with_hard_negatives(minilm_index: Path, tmp_path: Path) -> None:
    from retrieval.training.trainer import TrainRetrieverConfig, train_retriever

    out = tmp_path / "tuned-hn"
    cfg = TrainRetrieverConfig(base="minilm", out_dir=out, batch_size=8, max_steps=3, lr=1e-4,
                               eval_queries=40, eval_distractors=20, seed=0, hard_negatives=True)
    rep = train_retriever(minilm_index, cfg)
    assert rep.hard_negatives and rep.steps == 3
    assert 0.8 * rep.pairs <= rep.pairs_with_negative <= rep.pairs
    assert rep.triplet_steps >= 1 and rep.negative_bm25_rank["median"] >= 1
    assert rep.loss_first is not None and rep.loss_first > 0
    manifest = json.loads((out / "ragqa_model.json").read_text(encoding="utf-8"))
    assert manifest["hard_negatives"] is True
    assert manifest["pairs_with_negative"] == rep.pairs_with_negative
    assert manifest["hard_negative_config"] == {"skip": 0, "window": 1, "depth": 50, "same_doc": False,
                                                "exclude_answer": True}
