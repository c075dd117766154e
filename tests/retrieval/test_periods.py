"""Asked years, document periods, and the hybrid's period list."""

from __future__ import annotations

from fixed_lists import Fixed

from ingest.types import Chunk
from retrieval.hybrid import HybridRetriever
from retrieval.periods import context_years, of_period, question_years


def test_question_years() -> None:
    assert question_years("What was 3M's FY2018 capital expenditure?") == {"2018"}
    assert question_years("Compare FY22 with Q2 2023") == {"2022", "2023"}
    assert question_years("Revenue of 12,018 million in 20185 units") == frozenset()
    assert question_years("How many days of leave?") == frozenset()


def test_document_period() -> None:
    ctx = "3M Company | Form 10-K | fiscal year ended December 31, 2018 | 3M 2018 10K"
    assert context_years(ctx) == {"2018"}
    assert of_period(ctx, frozenset({"2018"})) and not of_period(ctx, frozenset({"2022"}))
    assert not of_period("", frozenset({"2018"})) and not of_period(ctx, frozenset())


def _chunk(cid: str, context: str) -> Chunk:
    return Chunk(id=cid, doc_id=f"d-{cid}", text=f"capex {cid}", source=f"{cid}.pdf", start=0, end=7, ordinal=0,
                 lang="en", doc_context=context)


Y22 = _chunk("y22", "3M Company | Form 10-K | fiscal year ended December 31, 2022")
Y18 = _chunk("y18", "3M Company | Form 10-K | fiscal year ended December 31, 2018")


def test_the_period_list_lifts_the_asked_years_document() -> None:
    lists = [Fixed("dense", [Y22, Y18]), Fixed("bm25", [Y22, Y18])]
    plain = HybridRetriever(lists)
    dated = HybridRetriever(lists, period_weight=1.0)
    q = "What was 3M's FY2018 capital expenditure?"
    assert [h.chunk.id for h in plain.retrieve(q)] == ["y22", "y18"]
    assert [h.chunk.id for h in dated.retrieve(q)] == ["y18", "y22"]
    # no year asked, or no candidate of that period: the fused order as without the list
    assert [h.chunk.id for h in dated.retrieve("What is 3M's capital expenditure?")] == ["y22", "y18"]
    assert [h.chunk.id for h in dated.retrieve("capex in 2010?")] == ["y22", "y18"]


def test_period_weight_must_not_be_negative() -> None:
    import pytest

    with pytest.raises(ValueError, match="period_weight"):
        HybridRetriever([Fixed("dense", [Y18])], period_weight=-1)


def test_missing_period_needs_dated_documents_none_of_the_asked_years() -> None:
    from retrieval.periods import missing_period

    q = "What was 3M's FY2018 capital expenditure?"
    assert missing_period(q, [Y22]) == {"2018"}
    assert missing_period(q, [Y22, Y18]) == frozenset()
    assert missing_period(q, [_chunk("x", "")]) == frozenset()  # undated documents: no judgement
    in_text = Chunk(id="t", doc_id="d-t", text="Capex | 2018: 1,577", source="t.pdf", start=0, end=5, ordinal=0,
                    lang="en", doc_context=Y22.doc_context)
    assert missing_period(q, [in_text]) == frozenset()  # a comparative column names the year
    assert missing_period("What is 3M's capex?", [Y22]) == frozenset()


def test_a_documents_own_date_is_not_its_period() -> None:
    from retrieval.periods import period_years

    assert period_years("3M Company | Form 10-K | fiscal year ended December 31, 2018 | 3M 2018 10K") == {"2018"}
    assert period_years("PFIZER INC. | Form 10-Q | quarterly period ended July 2, 2023") == {"2023"}
    assert period_years("Ulta Beauty Announces Fourth Quarter Fiscal 2022 Results | March 9, 2023") == {"2022"}
    assert period_years("休暇規程 | 2025-12-01 | holiday calendar 2026") == frozenset()
    from retrieval.periods import period_candidates

    assert period_candidates(["Budget | 2025-12-01 | budget 2026", "Memo 2025"], frozenset({"2026"})) == []
    assert period_candidates(["3M | fiscal year ended December 31, 2018", "3M 8-K 2018"], frozenset({"2018"})) == [0, 1]
