from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.types import Chunk
from retrieval.training.pairs import (
    Pair,
    PairConfig,
    build_pairs,
    gold_pairs,
    heading_pairs,
    ict_pairs,
    no_duplicate_batches,
    read_qa_file,
    split_pairs,
    usable_query,
)

EN_TEXT = (
    "Volcanoes form where magma reaches the surface. The crater collects ash after each eruption. "
    "Lava flows can travel many kilometres downhill. Scientists monitor gas emissions every day."
)
JA_TEXT = "温泉は日本各地にあります。源泉の温度は場所によって異なります。露天風呂は特に人気があります。"


def _chunk(cid: str, doc: str, text: str, ordinal: int = 0, heading: tuple[str, ...] = (), lang: str = "en",
           source: str | None = None) -> Chunk:
    return Chunk(id=cid, doc_id=doc, text=text, source=source or f"{doc}.md", start=0, end=len(text),
                 ordinal=ordinal, heading_path=heading, lang=lang)


def _corpus() -> list[Chunk]:
    chunks = []
    for d in range(10):
        for o in range(3):
            lang = "ja" if d % 3 == 0 else "en"
            text = JA_TEXT if lang == "ja" else EN_TEXT
            chunks.append(_chunk(f"d{d}c{o}", f"doc{d}", f"{text} Part {d}-{o}." if lang == "en" else text + f"第{d}部{o}。",
                                 o, ("Guide", f"Section {d} number {o}"), lang))
    return chunks


def test_ict_removes_the_query_sentence_when_asked() -> None:
    c = _chunk("c1", "d1", EN_TEXT, heading=("Volcano basics",))
    always = ict_pairs(c, PairConfig(ict_per_chunk=3, remove_prob=1.0), seed=0)
    assert len(always) == 3
    for p in always:
        assert p.query in EN_TEXT
        assert p.query not in p.passage
        assert p.passage.startswith("Volcano basics\n")  # the heading context stays
        assert p.relevant == ("c1",) and p.kind == "ict"
    never = ict_pairs(c, PairConfig(ict_per_chunk=3, remove_prob=0.0), seed=0)
    assert [p.query for p in never] == [p.query for p in always]
    assert all(p.query in p.passage for p in never)


def test_ict_on_japanese_text_and_single_sentence_chunks() -> None:
    ja = ict_pairs(_chunk("j", "d", JA_TEXT, lang="ja"), PairConfig(ict_per_chunk=1, remove_prob=1.0), seed=3)
    assert len(ja) == 1 and ja[0].query.endswith("。") and ja[0].query not in ja[0].passage
    assert ja[0].lang == "ja"
    assert ict_pairs(_chunk("s", "d", "Only one sentence lives here."), PairConfig(), seed=0) == []


def test_usable_query_filters_length_and_non_text() -> None:
    cfg = PairConfig(min_query_chars=8, max_query_chars=40)
    assert usable_query("What is the refund policy?", cfg)
    assert usable_query("年次有給休暇の付与日数", cfg)
    assert not usable_query("short", cfg)
    assert not usable_query("x" * 41, cfg)
    assert not usable_query("| --- | --- | --- |", cfg)
    assert not usable_query("12,000 34,500 9", cfg)


def test_heading_pairs_relate_all_chunks_under_a_heading() -> None:
    cs = [
        _chunk("a0", "d", "Leave policy\nEmployees get ten days of paid leave.", 0, ("Leave policy",)),
        _chunk("a1", "d", "Unused days carry over for one year.", 1, ("Leave policy",)),
        _chunk("b0", "d", "Claims need receipts within thirty days.", 2, ("Expenses", "Claims")),
    ]
    pairs = {p.query: p for p in heading_pairs(cs, PairConfig())}
    lp = pairs["Leave policy"]
    assert lp.relevant == ("a0", "a1") and lp.kind == "heading"
    assert not lp.passage.startswith("Leave policy")  # the heading is cut from its passage
    assert "Expenses Claims" in pairs  # short innermost heading gets its parent
    assert pairs["Expenses Claims"].relevant == ("b0",)


def test_gold_pairs_from_qa_rows(tmp_path: Path) -> None:
    cs = [
        _chunk("x0", "dx", "第2条 入社6か月後に１０日を付与する。", 0, lang="ja", source="hr/leave.pdf"),
        _chunk("x1", "dx", "第3条 上限は40日とする。", 1, lang="ja", source="hr/leave.pdf"),
        _chunk("y0", "dy", "40日 appears here too but in another file.", 0, source="other.md"),
    ]
    rows = [
        {"question": "付与日数は？", "answer": "10日", "source": "hr/leave.pdf", "lang": "ja"},  # NFKC: １０日
        {"question": "上限は？", "answer": "40日", "source": "leave.pdf"},  # suffix match
        {"question": "unanswerable", "answer": "x", "source": "hr/leave.pdf", "answerable": False},
        {"question": "not in text", "answer": "99日", "source": "hr/leave.pdf"},
    ]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    got = gold_pairs(cs, read_qa_file(qa))
    assert [(p.query, p.relevant) for p in got] == [("付与日数は？", ("x0",)), ("上限は？", ("x1",))]
    assert all(p.kind == "gold" and p.doc_id == "dx" for p in got)


def test_read_qa_file_names_the_bad_line(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"qa.jsonl:2"):
        read_qa_file(qa)


def test_build_pairs_is_deterministic_and_seed_dependent() -> None:
    a = build_pairs(_corpus(), seed=1)
    b = build_pairs(list(reversed(_corpus())), seed=1)  # input order does not matter
    c = build_pairs(_corpus(), seed=2)
    assert a == b
    assert a != c
    assert {p.kind for p in a} == {"ict", "heading"}
    assert len({(p.query, p.chunk_id) for p in a}) == len(a)


def test_build_pairs_mixes_languages_under_a_cap() -> None:
    pairs = build_pairs(_corpus(), seed=0, config=PairConfig(max_pairs=10))
    assert len(pairs) == 10
    langs = [p.lang for p in pairs]
    assert langs.count("ja") == 5 and langs.count("en") == 5  # round-robin while both last


def test_split_by_doc_has_no_document_overlap() -> None:
    pairs = build_pairs(_corpus(), seed=0)
    train, held = split_pairs(pairs, holdout=0.3, seed=5, by="doc")
    assert len(train) + len(held) == len(pairs)
    train_docs, held_docs = {p.doc_id for p in train}, {p.doc_id for p in held}
    assert train_docs and held_docs and not train_docs & held_docs
    assert len(held_docs) == 3  # ceil(0.3 × 10 documents)
    assert split_pairs(pairs, holdout=0.3, seed=5) == (train, held)
    assert split_pairs(pairs, holdout=0.3, seed=6) != (train, held)


def test_split_keeps_one_training_document_and_validates() -> None:
    pairs = [Pair("q one here", "p", ("c1",), "d1", "ict", "en"), Pair("q two here", "p2", ("c2",), "d2", "ict", "en")]
    train, held = split_pairs(pairs, holdout=0.9)
    assert len(train) == 1 and len(held) == 1
    with pytest.raises(ValueError, match="holdout"):
        split_pairs(pairs, holdout=1.0)
    with pytest.raises(ValueError, match="by must be"):
        split_pairs(pairs, by="chunk")  # type: ignore[arg-type]


def test_no_duplicate_batches_cover_every_pair_without_clashes() -> None:
    pairs = build_pairs(_corpus(), seed=0)
    batches = no_duplicate_batches(pairs, batch_size=8, seed=0)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(pairs)))
    assert all(len(b) <= 8 for b in batches)
    for b in batches:
        chunk_ids = [c for i in b for c in pairs[i].relevant]
        assert len(chunk_ids) == len(set(chunk_ids))
        assert len({pairs[i].query for i in b}) == len(b)
        assert len({pairs[i].passage for i in b}) == len(b)
    assert no_duplicate_batches(pairs, 8, seed=0) == batches
    with pytest.raises(ValueError, match="batch_size"):
        no_duplicate_batches(pairs, 1, seed=0)
