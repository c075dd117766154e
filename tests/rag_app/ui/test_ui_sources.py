from __future__ import annotations

from rag_app import Answer, Citation, Hit
from rag_app.ui.sources import (
    answer_markdown,
    cited_spans,
    claims_by_block,
    highlight_html,
    location_label,
    source_cards,
)
from retrieval.types import Chunk


def _hit(text: str, file_type: str = "md", page: int | None = None, sheet: str | None = None) -> Hit:
    return Hit(Chunk(id=text[:8], doc_id="d", text=text, source=f"x.{file_type}", start=0, end=len(text), ordinal=0,
                     page=page, sheet=sheet, file_type=file_type), 0.5, "hybrid")


def test_claims_are_the_text_before_each_marker_run() -> None:
    assert claims_by_block("Ten days [1]. Carry over 20 [1][2]. Unmarked.") == {
        1: ["Ten days", ". Carry over 20"], 2: [". Carry over 20"]}


def test_cited_sentences_are_found_in_english_and_japanese() -> None:
    en = "Leave starts in April. Employees get ten days of paid leave. Ask HR for details."
    (span,) = cited_spans(en, ["Employees get ten days of paid leave"])
    assert en[span[0]:span[1]].strip() == "Employees get ten days of paid leave."
    ja = "第1条 目的。入社6か月後に10日の年次有給休暇を付与する。繰越は20日まで。"
    (span,) = cited_spans(ja, ["入社6か月後に10日の年次有給休暇を付与する"])
    assert ja[span[0]:span[1]] == "入社6か月後に10日の年次有給休暇を付与する。"
    assert cited_spans(en, ["something entirely unrelated zzz"]) == ()


def test_source_cards_follow_the_answer_citations() -> None:
    h1, h2 = _hit("Ten days of leave."), _hit("Twenty days carry over.")
    ans = Answer(question="q", text="Ten days of leave [1].", citations=(Citation(1, h1.chunk.id, "x.md", None, ""),),
                 contexts=(h1, h2), refused=False, generator="extractive")
    c1, c2 = source_cards(ans)
    assert (c1.n, c1.cited, c1.cited_text) == (1, True, ["Ten days of leave."])
    assert (c2.n, c2.cited, c2.spans) == (2, False, ())


def test_markers_become_links_and_the_text_stays_literal() -> None:
    md = answer_markdown("Costs $5 *net* [1] and [9].", turn_id=3, valid=[1])
    assert "[\\[1\\]](#src-3-1)" in md and "\\$5 \\*net\\*" in md
    assert "(#src-3-9)" not in md and "\\[9\\]" in md  # a marker with no card is not a link


def test_highlight_escapes_html() -> None:
    out = highlight_html("a <b> c\nd", [(2, 5)])
    assert out == "a <mark>&lt;b&gt;</mark> c<br>d"


def test_location_labels_per_format() -> None:
    assert location_label(_hit("t", "pdf", page=3)) == "page 3"
    assert location_label(_hit("t", "pptx", page=2)) == "slide 2"
    assert location_label(_hit("t", "xlsx", page=1, sheet="Bands")) == "sheet Bands"
    assert location_label(_hit("t", "md")) == ""


def test_table_rows_sharing_only_column_names_are_not_cited() -> None:
    rows = ("Severity: SEV1 | First response: 15 minutes | Status updates: Every 30 minutes\n"
            "Severity: SEV2 | First response: 30 minutes | Status updates: Every 60 minutes")
    (span,) = cited_spans(rows, ["Severity: SEV2 | First response: 30 minutes | Status updates: Every 60 minutes"])
    assert rows[span[0]:span[1]].startswith("Severity: SEV2")
