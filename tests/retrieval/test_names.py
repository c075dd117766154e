"""Names a question asks about (retrieval/names.py), on FinanceBench's own phrasings."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from retrieval.names import asked_names, missing_names


@pytest.mark.parametrize(("question", "names"), [
    ("What is Amazon's FY2017 days payable outstanding (DPO)?", ["Amazon"]),
    ("What Was AMCOR's Adjusted Non GAAP EBITDA for FY 2023", ["AMCOR"]),
    ("Are Best Buy's gross margins historically consistent?", ["Best Buy"]),
    ("Which debt securities are registered under American Express' name?", ["American Express"]),
    ("Has Verizon increased its debt on balance sheet between 2022 and 2021?", ["Verizon"]),
    ("For Pfizer, which geographic region had the biggest drop in revenues?", ["Pfizer"]),
    ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", ["3M"]),
    ("What drove the reduction in SG&A expense as a percent of net sales in FY2023?", []),
    ("Which NFL team represented the AFC at Super Bowl 50?", []),
    ("What is the company's effective tax rate?", []),
])  # fmt: skip
def test_asked_names(question: str, names: list[str]) -> None:
    assert asked_names(question) == names


@dataclass(frozen=True)
class C:
    text: str
    doc_context: str = ""


def test_a_name_is_known_from_text_context_initials_or_an_abbreviation() -> None:
    boeing = C("Debt securities registered: 1.875% Notes due 2033.", "THE BOEING COMPANY | Form 10-K")
    assert missing_names("Which debt securities are registered under American Express' name?", [boeing]) == \
        ["American Express"]
    assert missing_names("What is Boeing's debt?", [boeing]) == []
    assert missing_names("What are JnJ's sales?", [C("Sales rose.", "JOHNSON & JOHNSON | Form 10-K")]) == []
    assert missing_names("Does AMEX have an improving margin?", [C("x", "AMERICAN EXPRESS COMPANY | Form 10-K")]) == []
    assert missing_names("What is JPM's net income?", [C("x", "JPMORGAN CHASE & CO | Form 10-K")]) == []
    assert missing_names("When did Beyoncé's tour start?", [C("Beyonce's tour started in 2016.")]) == []
    assert missing_names("What drove sales?", [boeing]) == []  # no name asked


def test_name_candidates_are_the_documents_of_the_asked_company() -> None:
    from retrieval.names import name_candidates

    contexts = ["VERIZON COMMUNICATIONS INC. | Form 10-K", "THE BOEING COMPANY | Form 10-K", "", "JOHNSON & JOHNSON"]
    assert name_candidates(contexts, ["Boeing"]) == [1]
    assert name_candidates(contexts, ["JnJ"]) == [3]
    assert name_candidates(contexts, []) == []


def test_the_name_list_lifts_the_asked_companys_filing() -> None:
    from fixed_lists import Fixed

    from ingest.types import Chunk
    from retrieval.hybrid import HybridRetriever

    def chunk(cid: str, context: str) -> Chunk:
        return Chunk(id=cid, doc_id=cid, text="The effective tax rate was 21 %.", source=f"{cid}.pdf", start=0,
                     end=10, ordinal=0, lang="en", doc_context=context)

    verizon, boeing = chunk("vz", "VERIZON COMMUNICATIONS INC. | Form 10-K"), chunk("ba", "THE BOEING COMPANY | Form 10-K")
    lists = [Fixed("dense", [verizon, boeing]), Fixed("bm25", [verizon, boeing])]
    q = "How does Boeing's effective tax rate in FY2022 compare to FY2021?"
    assert [h.chunk.id for h in HybridRetriever(lists).retrieve(q)] == ["vz", "ba"]
    assert [h.chunk.id for h in HybridRetriever(lists, name_weight=1.0).retrieve(q)] == ["ba", "vz"]
    with pytest.raises(ValueError, match="name_weight"):
        HybridRetriever(lists, name_weight=-1)
