"""Period tables laid out as text (SEC statements without rules) become header-keyed rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.loaders.pdf import load_pdf
from ingest.loaders.text_tables import Header, TextTable, parse_header, split_rows, split_text_tables

FINANCEBENCH = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "financebench" / "pdfs"

CASH_FLOWS = """Consolidated Statement of Cash Flows
Years ended December 31
(Millions) 2018 2017 2016
Cash Flows from Operating Activities
Net income including noncontrolling interest $ 5,363 $ 4,869 $ 5,058
Adjustments to reconcile net income including noncontrolling interest to net cash
provided by operating activities
Depreciation and amortization 1,488 1,544 1,474 Company pension contributions (370) (967) (383)
Cash Flows from Investing Activities
Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420)
Proceeds from sale of businesses, net of cash sold
846 1,065 142
Net cash provided by (used in) investing activities 222 (3,086) (1,403)
The accompanying Notes to Consolidated Financial Statements are an integral part of this statement."""


def _tables(lines: list[str]) -> list[TextTable]:
    return [s for s in split_text_tables(lines) if isinstance(s, TextTable)]


def test_headers_name_their_periods() -> None:
    assert parse_header("(Millions) 2018 2017 2016") == Header("(Millions)", ("2018", "2017", "2016"))
    assert parse_header("December 31, 2018 December 31, 2017") == Header(
        "", ("December 31, 2018", "December 31, 2017")
    )
    assert parse_header("In 2018 we grew.") is None
    assert parse_header("Total 1,200 2018 2017") is None  # a value before the years: a row
    assert parse_header("2018") is None  # one period is a date, not a table


def test_rows_split_into_label_and_values() -> None:
    assert split_rows("Inventories (509) (387) 57", 3) == [("Inventories", ("(509)", "(387)", "57"))]
    assert split_rows("Gross margin 37.2 % 36.1 %", 2) == [("Gross margin", ("37.2%", "36.1%"))]
    assert split_rows("Note 4 debt 1,200 900", 2) == [("Note 4 debt", ("1,200", "900"))]
    assert split_rows("Two rows 1 2 Another row 3 4", 2) == [("Two rows", ("1", "2")), ("Another row", ("3", "4"))]
    assert split_rows("We paid 1,200 in 2018 to suppliers.", 2) is None  # prose
    assert split_rows("Total 1,200", 2) is None  # fewer values than columns


def test_cash_flow_statement_rows_carry_section_and_year() -> None:
    segments = list(split_text_tables(CASH_FLOWS.split("\n")))
    assert segments[0] == ["Consolidated Statement of Cash Flows", "Years ended December 31"]
    (table,) = [s for s in segments if isinstance(s, TextTable)]
    assert table.rows == (
        "Cash Flows from Operating Activities: Net income including noncontrolling interest"
        " | 2018: $5,363 | 2017: $4,869 | 2016: $5,058",
        "Adjustments to reconcile net income including noncontrolling interest to net cash provided by"
        " operating activities: Depreciation and amortization | 2018: 1,488 | 2017: 1,544 | 2016: 1,474",
        "Adjustments to reconcile net income including noncontrolling interest to net cash provided by"
        " operating activities: Company pension contributions | 2018: (370) | 2017: (967) | 2016: (383)",
        "Cash Flows from Investing Activities: Purchases of property, plant and equipment (PP&E)"
        " | 2018: (1,577) | 2017: (1,373) | 2016: (1,420)",
        "Cash Flows from Investing Activities: Proceeds from sale of businesses, net of cash sold"
        " | 2018: 846 | 2017: 1,065 | 2016: 142",
        "Cash Flows from Investing Activities: Net cash provided by (used in) investing activities"
        " | 2018: 222 | 2017: (3,086) | 2016: (1,403)",
    )
    assert segments[-1] == [
        "The accompanying Notes to Consolidated Financial Statements are an integral part of this statement."
    ]


def test_a_total_row_closes_its_section() -> None:
    lines = ["2018 2017", "Current assets", "Inventories", "Finished goods 2,120 1,915",
             "Total inventories 4,366 4,034", "Prepaids 741 937", "Total current assets 13,709 14,277",
             "Goodwill 10,051 10,513"]  # fmt: skip
    (table,) = _tables(lines)
    assert [r.split(" | ")[0] for r in table.rows] == [
        "Inventories: Finished goods", "Inventories: Total inventories", "Current assets: Prepaids",
        "Current assets: Total current assets", "Goodwill",
    ]  # fmt: skip


def test_prose_with_years_stays_text() -> None:
    lines = ["Sales grew in 2018 2017", "compared with the prior year, as noted above."]
    assert list(split_text_tables(lines)) == [lines]
    one_row = ["(Millions) 2018 2017", "Net sales 32,765 31,657", "This paragraph is prose and ends the table."]
    assert _tables(one_row) == []  # a single row is not a table


def test_pdf_statement_becomes_rows(make_pdf: Callable[..., Path]) -> None:
    path = make_pdf("statement.pdf", [CASH_FLOWS])
    blocks = list(load_pdf(path, tables="ruled"))
    rows = [b.text for b in blocks if b.kind == "table_row"]
    assert [b.text for b in blocks if b.kind == "table_header"] == ["(Millions) | 2018 | 2017 | 2016"]
    assert "Purchases of property, plant and equipment (PP&E) | 2018: (1,577)" in rows[3]
    assert all(b.page == 1 for b in blocks)
    assert not any(b.kind == "table_row" for b in load_pdf(path, tables="off"))


def test_3m_2018_cash_flow_capex_row() -> None:
    path = FINANCEBENCH / "3M_2018_10K.pdf"
    if not path.is_file():
        pytest.skip(f"{path} is absent (see ../shared/datasets/README.md)")
    rows = [b for b in load_pdf(path) if b.kind == "table_row" and b.page == 60]
    capex = [b.text for b in rows if "Purchases of property, plant and equipment" in b.text]
    assert capex == [
        "Cash Flows from Investing Activities: Purchases of property, plant and equipment (PP&E)"
        " | 2018: (1,577) | 2017: (1,373) | 2016: (1,420)"
    ]
