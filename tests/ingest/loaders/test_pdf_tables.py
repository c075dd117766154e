"""PDF tables become header-keeping row records; table-free text stays text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load_blocks
from ingest.loaders.pdf import load_pdf, table_mode
from ingest.loaders.pdf_tables import fold_columns

FINANCEBENCH = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "financebench" / "pdfs"


@pytest.fixture
def sla_pdf(tmp_path: Path) -> Path:
    """A page of prose, a ruled table (reportlab GRID), more prose."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    path = tmp_path / "sla.pdf"
    style = getSampleStyleSheet()["Normal"]
    table = Table([["Plan", "Monthly uptime commitment", "Service credit"],
                   ["Starter", "99.5 %", "10 %"],
                   ["Enterprise", "99.95 %", "25 %"]])  # fmt: skip
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black")]))
    SimpleDocTemplate(str(path), pagesize=A4).build(
        [Paragraph("Service levels by plan are listed below.", style), table,
         Paragraph("Credits are applied to the next invoice.", style)]
    )
    return path


def test_ruled_table_rows_keep_their_header(sla_pdf: Path) -> None:
    blocks = list(load_blocks(sla_pdf))
    assert [(b.kind, b.text) for b in blocks] == [
        ("text", "Service levels by plan are listed below."),
        ("table_header", "Plan | Monthly uptime commitment | Service credit"),
        ("table_row", "Plan: Starter | Monthly uptime commitment: 99.5 % | Service credit: 10 %"),
        ("table_row", "Plan: Enterprise | Monthly uptime commitment: 99.95 % | Service credit: 25 %"),
        ("text", "Credits are applied to the next invoice."),
    ]
    assert {b.page for b in blocks} == {1}
    assert {b.table_id for b in blocks if b.kind.startswith("table")} == {"p1-t1"}


def test_tables_off_reads_the_table_as_text(sla_pdf: Path) -> None:
    blocks = list(load_pdf(sla_pdf, tables="off"))
    assert {b.kind for b in blocks} == {"text"}
    assert "Enterprise 99.95 % 25 %" in "\n".join(b.text for b in blocks)


def test_unknown_table_mode_names_the_allowed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_PDF_TABLES", "fast")
    with pytest.raises(ValueError, match=r"Unknown PDF table mode 'fast' .* Supported: 'ruled' .* 'all' .* 'off'"):
        table_mode()
    assert table_mode("ALL") == "all"


def test_fold_columns_joins_currency_and_percent_cells() -> None:
    rows = [["Segment", "", "Net sales", "", "Margin", ""],
            ["Industrial", "$", "2,952", "", "37.2", "%"],
            ["Consumer", "", "1,211", None, "15.2", ""]]  # fmt: skip
    assert fold_columns(rows, header_rows=1) == [
        ["Segment", "Net sales", "Margin"],
        ["Industrial", "$ 2,952", "37.2%"],
        ["Consumer", "1,211", "15.2"],
    ]


def test_banded_sec_filing_table_gets_its_column_titles() -> None:
    # 3M's 2018 10-K, printed page 21: shaded rows, no vertical rules, titles stacked above.
    path = FINANCEBENCH / "3M_2018_10K.pdf"
    if not path.is_file():
        pytest.skip(f"{path} is absent (see ../shared/datasets/README.md)")
    import pypdfium2 as pdfium

    from ingest.loaders.pdf_geometry import read_layout
    from ingest.loaders.pdf_tables import find_tables

    document = pdfium.PdfDocument(path)
    try:
        tables = find_tables(read_layout(document[20]))
    finally:
        document.close()
    first = tables[0]
    assert first.header_rows == 4
    assert first.rows[first.header_rows :][1] == [
        "Industrial", "$ 2,952", "37.2%", "$ 627", "$ 2,961", "37.1%", "$ 580", "(0.3)%", "8.1%"
    ]  # fmt: skip
    assert [r[4] for r in first.rows[:4]] == ["Three months ended", "December 31, 2017", "Net", "Sales"]
