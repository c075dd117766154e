"""PDFium's reading of a page gives pdfplumber's table finder what pdfminer's reading gives it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.loaders.pdf_geometry import PageLayout, read_layout
from ingest.loaders.pdf_tables import find_tables

FINANCEBENCH = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "financebench" / "pdfs"


def _grid(c: Any, x: float, y: float, rows: list[list[str]], width: float = 110, height: float = 20) -> None:
    """A ruled table with its top-left corner at (x, y) (PDF points, origin bottom-left)."""
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            c.drawString(x + j * width + 4, y - (i + 1) * height + 6, text)
    for i in range(len(rows) + 1):
        c.line(x, y - i * height, x + len(rows[0]) * width, y - i * height)
    for j in range(len(rows[0]) + 1):
        c.line(x + j * width, y, x + j * width, y - len(rows) * height)


ROWS = [["Plan", "Uptime", "Credit"], ["Starter plan", "99.5 %", "10 %"], ["Enterprise", "99.95 %", "25 %"]]


@pytest.fixture
def grids_pdf(tmp_path: Path) -> Path:
    """Page 1: a ruled grid drawn on the page, and one drawn inside a form XObject placed with a
    translation (its lines live in the form's own space). Page 2: a table whose cells are filled
    rectangles without strokes (pdfplumber takes a rectangle's four sides as edges)."""
    from reportlab.pdfgen import canvas

    path = tmp_path / "grids.pdf"
    c = canvas.Canvas(str(path), pagesize=(612, 792))
    c.setFont("Helvetica", 10)
    c.drawString(72, 740, "Service levels by plan.")
    _grid(c, 72, 720, ROWS)
    c.beginForm("grid")
    _grid(c, 0, 0, [["Region", "Sales"], ["Europe", "1,204"], ["Asia", "877"]])
    c.endForm()
    c.saveState()
    c.translate(150, 400)
    c.doForm("grid")
    c.restoreState()
    c.showPage()
    c.setPageSize((612, 792))
    c.setFont("Helvetica", 10)
    c.drawString(72, 740, "Second page.")
    c.setFillGray(0.9)
    for i in range(3):
        for j in range(2):
            c.rect(72 + j * 110, 700 - (i + 1) * 20, 110, 20, stroke=0, fill=1)
    c.setFillGray(0)
    for i, row in enumerate([["Quarter", "Revenue"], ["Q1", "$ 12"], ["Q2", "$ 15"]]):
        for j, text in enumerate(row):
            c.drawString(72 + j * 110 + 4, 700 - (i + 1) * 20 + 6, text)
    c.save()
    return path


@pytest.fixture
def pages(grids_pdf: Path) -> Iterator[tuple[Any, Any]]:
    """(pypdfium2 document, pdfplumber PDF) of the same file."""
    import pdfplumber
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(grids_pdf)
    with pdfplumber.open(grids_pdf) as plumber:
        yield document, plumber
    document.close()


def _rows(tables: list[Any]) -> list[list[list[str]]]:
    return [t.rows for t in tables]


def test_tables_equal_pdfplumbers_own(pages: tuple[Any, Any]) -> None:
    document, plumber = pages
    for i in range(len(document)):
        ours = find_tables(read_layout(document[i]))
        theirs = find_tables(plumber.pages[i])
        assert _rows(ours) == _rows(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert a.bbox == pytest.approx(b.bbox, abs=0.5)
    first = find_tables(read_layout(document[0]))
    assert [t.rows for t in first] == [ROWS, [["Region", "Sales"], ["Europe", "1,204"], ["Asia", "877"]]]
    assert _rows(find_tables(read_layout(document[1]))) == [[["Quarter", "Revenue"], ["Q1", "$ 12"], ["Q2", "$ 15"]]]


def test_grid_inside_a_form_is_placed_by_the_forms_matrix(pages: tuple[Any, Any]) -> None:
    document, _ = pages
    tables = find_tables(read_layout(document[0]))
    x0, top, x1, bottom = tables[1].bbox
    assert (x0, x1) == pytest.approx((150, 370), abs=0.01)  # translate(150, 400), 2 columns of 110
    assert (top, bottom) == pytest.approx((792 - 400, 792 - 400 + 60), abs=0.01)


def test_words_split_where_the_text_has_spaces(pages: tuple[Any, Any]) -> None:
    document, plumber = pages
    ours = [w["text"] for w in read_layout(document[0]).extract_words()]
    theirs = [w["text"] for w in plumber.pages[0].extract_words()]
    assert ours == theirs
    assert ours[:4] == ["Service", "levels", "by", "plan."]


def test_crop_keeps_what_is_inside_and_refuses_a_box_outside(pages: tuple[Any, Any]) -> None:
    document, _ = pages
    layout = read_layout(document[0])
    top_table = layout.crop((60, 60, 420, 140))
    assert isinstance(top_table, PageLayout)
    text = "".join(c["text"] for c in top_table.chars)
    assert text.startswith("Plan Uptime Credit") and text.endswith("25 %")
    assert "Service" not in text and "Region" not in text
    assert all(60 <= e["x0"] <= e["x1"] <= 420 for e in top_table.edges)
    with pytest.raises(ValueError, match="not fully within"):
        layout.crop((0, 0, 700, 100))
    assert layout.crop((0, 0, 700, 100), strict=False).bbox == (0, 0, 700, 100)


def test_offset_media_box_keeps_the_frame(tmp_path: Path) -> None:
    """A media box starting at (100, 50): pdfplumber's frame counts from its top-left corner."""
    import pypdfium2 as pdfium
    from reportlab.pdfgen import canvas

    path = tmp_path / "offset.pdf"
    c = canvas.Canvas(str(path), pagesize=(712, 842))
    c.setFont("Helvetica", 10)
    _grid(c, 172, 770, ROWS)
    c.showPage()
    c.save()
    document = pdfium.PdfDocument(path)
    page = document[0]
    page.set_mediabox(100, 50, 712, 842)
    tables = find_tables(read_layout(page))
    assert [t.rows for t in tables] == [ROWS]
    assert tables[0].bbox[:2] == pytest.approx((72, 842 - 770), abs=0.01)
    document.close()


def test_sec_filing_tables_match_pdfplumber() -> None:
    """3M's 2022 10-K, pages with ruled tables: the same rows as pdfminer's reading, page for page."""
    path = FINANCEBENCH / "3M_2022_10K.pdf"
    if not path.is_file():
        pytest.skip(f"{path} is absent (see ../shared/datasets/README.md)")
    import pdfplumber
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    with pdfplumber.open(path) as plumber:
        for i in (17, 19, 24, 38, 39):  # 0-based: printed pages with ruled tables
            assert _rows(find_tables(read_layout(document[i]))) == _rows(find_tables(plumber.pages[i]))
    document.close()
