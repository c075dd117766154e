"""Synonym groups: matching, query expansion, the phrase-first BM25 list, and user files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.types import Chunk
from retrieval.expansion import ExpandingRetriever
from retrieval.synonyms import NO_SYNONYMS, Synonyms, expand_query, load_synonyms
from retrieval.types import Filters, Hit

FINANCE = load_synonyms("finance")


def test_a_question_phrase_brings_the_filing_words() -> None:
    extra = FINANCE.expansions("What was 3M's FY2018 capital expenditure?")
    assert "purchases of property, plant and equipment" in extra
    assert "capital expenditure" not in extra  # the question holds it already
    assert FINANCE.expansions("How many days of paid leave?") == []
    assert expand_query("How many days of paid leave?", FINANCE) == "How many days of paid leave?"


def test_matching_is_on_word_boundaries_and_case_blind() -> None:
    assert FINANCE.matched_groups("Total REVENUES rose")  # "revenues", any case
    assert not FINANCE.matched_groups("the revenuer")  # inside a word: no
    assert FINANCE.holds_any("Purchases of Property, Plant and Equipment (PP&E) | 2018: (1,577)",
                             ("purchases of property, plant and equipment",))
    assert FINANCE.matched_groups("設備投資の額は？")  # Japanese: as a substring


def test_user_file_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "syn.json"
    path.write_text(json.dumps({"groups": [["PTO", "年次有給休暇", "paid leave"]]}), encoding="utf-8")
    mine = load_synonyms(str(path))
    assert mine.expansions("How much PTO do I get?") == ["年次有給休暇", "paid leave"]
    assert load_synonyms("off") is NO_SYNONYMS and load_synonyms(None) is NO_SYNONYMS
    with pytest.raises(ValueError, match="neither a built-in set"):
        load_synonyms(str(tmp_path / "missing.json"))
    path.write_text(json.dumps({"groups": [["only one"]]}), encoding="utf-8")
    with pytest.raises(ValueError, match="at least two non-empty phrases"):
        load_synonyms(str(path))
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read it as JSON"):
        load_synonyms(str(path))


def _chunk(cid: str, text: str) -> Chunk:
    return Chunk(id=cid, doc_id=f"d-{cid}", text=text, source=f"{cid}.pdf", start=0, end=len(text), ordinal=0,
                 lang="en")


class _Recorder:
    name = "bm25"
    lexical = True

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = chunks
        self.queries: list[str] = []

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        self.queries.append(query)
        return [Hit(chunk=c, score=1.0 / (i + 1), retriever=self.name, rank=i + 1) for i, c in enumerate(self.chunks)]


def test_expanding_retriever_searches_the_synonyms_and_puts_filing_words_first() -> None:
    prose = _chunk("a", "Capital expenditures are expected to grow.")
    row = _chunk("b", "Purchases of property, plant and equipment (PP&E) | 2018: (1,577)")
    other = _chunk("c", "Net sales rose.")
    inner = _Recorder([prose, other, row])
    r = ExpandingRetriever(inner, FINANCE)
    hits = r.retrieve("What was the capital expenditure in 2018?")
    assert "purchases of property, plant and equipment" in inner.queries[0]
    assert [h.chunk.id for h in hits] == ["b", "a", "c"] and [h.rank for h in hits] == [1, 2, 3]
    assert r.lexical and r.name == "bm25"
    assert [h.chunk.id for h in r.retrieve("How many employees?")] == ["a", "c", "b"]  # nothing to expand


def test_synonyms_are_data() -> None:
    s = Synonyms("mine", (("a b", "c"),))
    assert replace(s, name="x").groups == s.groups
