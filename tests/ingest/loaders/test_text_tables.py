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


SEGMENTS = """Business Segment Information
Net Sales Operating Income
(Millions) 2018 2017 2016 2018 2017 2016
Industrial $ 12,267 $ 11,866 $ 11,217 $ 2,737 $ 2,490 $ 2,528
Total Company $ 32,765 $ 31,657 $ 30,109 $ 7,207 $ 7,692 $ 7,027
Assets Depreciation & Amortization Capital Expenditures
(Millions) 2018 2017 2016 2018 2017 2016 2018 2017 2016
Industrial $ 9,855 $ 9,895 $ 9,140 $ 376 $ 432 $ 407 $ 454 $ 381 $ 360
Total Company $ 36,500 $ 37,987 $ 32,906 $ 1,488 $ 1,544 $ 1,474 $ 1,577 $ 1,373 $ 1,420
Corporate and unallocated operating income includes a variety of miscellaneous items."""

GROUP_TITLES = {"Net Sales Operating Income": ("Net Sales", "Operating Income"),
                "Assets Depreciation & Amortization Capital Expenditures":
                    ("Assets", "Depreciation & Amortization", "Capital Expenditures")}


def _titles(title_line: str, header_line: str, groups: tuple[int, ...]) -> tuple[str, ...] | None:
    found = GROUP_TITLES.get(title_line)
    return found if found is not None and len(found) == len(groups) else None


def test_headers_that_repeat_their_periods_have_groups() -> None:
    assert parse_header("(Millions) 2018 2017 2016 2018 2017 2016 2018 2017 2016") == Header(
        "(Millions)", ("2018", "2017", "2016") * 3, (3, 3, 3))
    assert parse_header("2022 2021 2022 2021") == Header("", ("2022", "2021") * 2, (2, 2))
    assert parse_header("2018 2017 2016 2018 2017") == Header("", ("2018", "2017", "2016", "2018", "2017"), (3, 2))
    assert parse_header(" ".join(["2018", "2017"] * 7)) is None  # more groups than MAX_GROUPS


def test_each_column_group_becomes_a_table_titled_by_its_measure() -> None:
    tables = [s for s in split_text_tables(SEGMENTS.split("\n"), _titles) if isinstance(s, TextTable)]
    assert [t.title for t in tables] == [
        ("Business Segment Information", "Net Sales"), ("Business Segment Information", "Operating Income"),
        ("Business Segment Information", "Assets"), ("Business Segment Information", "Depreciation & Amortization"),
        ("Business Segment Information", "Capital Expenditures"),
    ]
    assert tables[-1].header == Header("(Millions)", ("2018", "2017", "2016"))
    assert tables[-1].rows[-1] == "Capital Expenditures: Total Company | 2018: $1,577 | 2017: $1,373 | 2016: $1,420"
    assert tables[1].rows[0] == "Operating Income: Industrial | 2018: $2,737 | 2017: $2,490 | 2016: $2,528"
    text = [s for s in split_text_tables(SEGMENTS.split("\n"), _titles) if not isinstance(s, TextTable)]
    assert not any("Capital Expenditures" in line for seg in text for line in seg)  # the titles are headings


def test_grouped_header_without_placeable_titles_stays_text() -> None:
    lines = SEGMENTS.split("\n")
    assert _tables(lines[5:9]) == []  # four-word title line, three groups, no finder: not guessed
    two = ["Sales Assets", "2018 2017 2018 2017", "Industrial 1 2 3 4", "Consumer 5 6 7 8"]
    assert [(t.title, t.rows[0]) for t in _tables(two)] == [
        (("Sales",), "Sales: Industrial | 2018: 1 | 2017: 2"), (("Assets",), "Assets: Industrial | 2018: 3 | 2017: 4")]


def test_pdf_column_groups_are_placed_from_the_page(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "segments.pdf"
    groups = {"Assets": 180, "Depreciation & Amortization": 330, "Capital Expenditures": 480}  # left x, points
    rows = [("(Millions)", ["2018", "2017", "2016"] * 3),
            ("Industrial", ["9,855", "9,895", "9,140", "376", "432", "407", "454", "381", "360"]),
            ("Total Company", ["36,500", "37,987", "32,906", "1,488", "1,544", "1,474", "1,577", "1,373", "1,420"])]
    c = canvas.Canvas(str(path))
    c.drawString(40, 760, "Business Segment Information")
    for title, x in groups.items():  # centred over its three columns, drawn left to right as a filing does
        c.drawCentredString(x + 60, 740, title)
    for r, (label, values) in enumerate(rows):
        c.drawString(40, 724 - 16 * r, label)
        for k, value in enumerate(values):
            c.drawRightString(list(groups.values())[k // 3] + 40 * (k % 3) + 35, 724 - 16 * r, value)
    c.showPage()
    c.save()
    blocks = [b for b in load_pdf(path) if b.kind == "table_row"]
    capex = [b for b in blocks if b.heading_path[-1:] == ("Capital Expenditures",)]
    assert [b.text for b in capex] == ["Capital Expenditures: Industrial | 2018: 454 | 2017: 381 | 2016: 360",
                                       "Capital Expenditures: Total Company | 2018: 1,577 | 2017: 1,373 | 2016: 1,420"]
    assert {b.heading_path for b in blocks} == {("Business Segment Information", t) for t in
                                                ("Assets", "Depreciation & Amortization", "Capital Expenditures")}


def test_3m_2018_segment_capex_is_its_own_table() -> None:
    path = FINANCEBENCH / "3M_2018_10K.pdf"
    if not path.is_file():
        pytest.skip(f"{path} is absent (see ../shared/datasets/README.md)")
    rows = [b for b in load_pdf(path) if b.kind == "table_row" and b.page == 126]
    capex = [b.text for b in rows if b.heading_path[-1:] == ("Capital Expenditures",)]
    assert "Capital Expenditures: Total Company | 2018: $1,577 | 2017: $1,373 | 2016: $1,420" in capex
    sales = [b.text for b in rows if b.heading_path[-1:] == ("Net Sales",)]
    assert "Net Sales: Total Company | 2018: $32,765 | 2017: $31,657 | 2016: $30,109" in sales
    uneven = [b for b in load_pdf(path) if b.kind == "table_row" and b.page == 39]  # 3 + 3 + 2 years
    assert [b.text for b in uneven if b.heading_path and b.heading_path[-1].startswith("Capital Spending")
            and "Total Company" in b.text] == ["Capital Spending: Total Company | 2018: $1,577 | 2017: $1,373 | 2016: $1,420"]


def test_a_date_in_the_header_label_is_not_a_value() -> None:
    assert parse_header("Years Ended December 31, 2022 2021 2020") == Header(
        "Years Ended December 31,", ("2022", "2021", "2020"))
    assert parse_header("At Dec. 31, 2022 2021 2022 2021") == Header("At Dec. 31,", ("2022", "2021") * 2, (2, 2))


def test_a_section_ending_in_a_colon_keys_its_rows_once() -> None:
    lines = ["2022 2021", "Revenue from contracts with customers:", "U.S. customers $17,144 $16,110",
             "Non-U.S. customers 6,018 5,942"]
    (table,) = _tables(lines)
    assert table.rows[0] == "Revenue from contracts with customers: U.S. customers | 2022: $17,144 | 2021: $16,110"
