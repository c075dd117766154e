"""Table rows that name a question's line item in the asked years, and the hybrid's row list."""

from __future__ import annotations

import pytest
from fixed_lists import Fixed

from ingest.types import Chunk
from retrieval.hybrid import HybridRetriever
from retrieval.line_items import asks_for_value, line_item_candidates, names_line_item, row_cells
from retrieval.synonyms import load_synonyms

CAPEX_ROW = ("Cash Flows from Investing Activities: Purchases of property, plant and equipment (PP&E)"
             " | 2018: (1,577) | 2017: (1,373)")
CAPEX = ("capital expenditure", "purchases of property, plant and equipment")


def test_row_cells_reads_the_loaders_rows() -> None:
    assert row_cells("Plan: Enterprise | Monthly uptime: 99.95 %") == ("Plan: Enterprise", [("Monthly uptime", "99.95 %")])
    assert row_cells("Plan | Price") is None  # a header row: no cells
    assert row_cells("In 2018 we spent $1,577 million.") is None


@pytest.mark.parametrize(("line", "years", "named"), [
    (CAPEX_ROW, frozenset({"2018"}), True),
    (CAPEX_ROW, frozenset({"2022"}), False),  # a row without the asked year's cell
    (CAPEX_ROW, frozenset(), True),  # no year asked: a cell holding a number
    ("Net sales | 2018: 32,765 | 2017: 31,657", frozenset({"2018"}), False),  # another line item
    ("Total Company | 2018: $1,577 | 2017: $1,373", frozenset({"2018"}), False),  # the label names no item
    ("In 2018, capital expenditure was $1,577 million.", frozenset({"2018"}), False),  # prose
    ("Purchases of property, plant and equipment | Fiscal 2018: (1,577)", frozenset({"2018"}), True),
])  # fmt: skip
def test_names_line_item(line: str, years: frozenset[str], named: bool) -> None:
    assert names_line_item(line, CAPEX, years) is named


def test_line_item_candidates_look_at_every_line_of_a_chunk() -> None:
    texts = ["Capital spending grew in 2018.", f"Net income | 2018: 5,363\n\n{CAPEX_ROW}", "Net sales | 2018: 1"]
    assert line_item_candidates(texts, CAPEX, frozenset({"2018"})) == [1]
    assert line_item_candidates(texts, (), frozenset({"2018"})) == []


def _chunk(cid: str, text: str) -> Chunk:
    return Chunk(id=cid, doc_id=f"d-{cid}", text=text, source=f"{cid}.pdf", start=0, end=len(text), ordinal=0,
                 lang="en")


PROSE = [_chunk(f"p{i}", f"Capital spending prose {i}.") for i in range(3)]
ROW = _chunk("row", CAPEX_ROW)


def test_the_row_list_lifts_the_chunk_holding_the_asked_row() -> None:
    lists = [Fixed("dense", [*PROSE, ROW]), Fixed("bm25", [*PROSE, ROW])]
    finance = load_synonyms("finance")
    q = "What was 3M's FY2018 capital expenditure?"
    def first(r: HybridRetriever, question: str) -> str:
        return r.retrieve(question)[0].chunk.id

    assert first(HybridRetriever(lists, synonyms=finance), q) == "p0"  # weight 0: off
    with_rows = HybridRetriever(lists, row_weight=1.0, synonyms=finance)
    assert first(with_rows, q) == "row"
    # no synonym group named, or no synonyms: the fused order as without the list
    assert first(with_rows, "What grew in 2018?") == "p0"
    assert first(HybridRetriever(lists, row_weight=1.0), q) == "p0"


def test_row_weight_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="row_weight"):
        HybridRetriever([Fixed("dense", [ROW])], row_weight=-1)


@pytest.mark.parametrize(("question", "value"), [
    ("What was 3M's FY2018 capital expenditure?", True),
    ("How much did Amazon spend on capex in 2017?", True),
    ("2018年度の設備投資はいくらですか？", True),
    ("What drove the increase in Ulta Beauty's merchandise inventories in FY2023?", False),
    ("Which region had the biggest drop in revenues in Q2 2023?", False),
    ("Did JnJ's net earnings increase in FY2023?", False),
])  # fmt: skip
def test_asks_for_value(question: str, value: bool) -> None:
    assert asks_for_value(question) is value


def test_the_row_list_is_for_questions_asking_an_amount() -> None:
    lists = [Fixed("dense", [*PROSE, ROW]), Fixed("bm25", [*PROSE, ROW])]
    with_rows = HybridRetriever(lists, row_weight=1.0, synonyms=load_synonyms("finance"))
    assert with_rows.retrieve("What drove 3M's capital expenditure in FY2018?")[0].chunk.id == "p0"
