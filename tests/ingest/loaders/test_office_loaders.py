"""DOCX, PPTX, XLSX and CSV loaders against small files made with the real libraries."""

from __future__ import annotations

import datetime as dt
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from ingest.loaders import LoadError, load_blocks
from ingest.loaders.sheet import format_cell, sniff_delimiter
from ingest.types import Block


def kinds_texts(blocks: list[Block]) -> list[tuple[str, str]]:
    return [(b.kind, b.text) for b in blocks]


# --- DOCX -------------------------------------------------------------------------------


@pytest.fixture
def docx_file(tmp_path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_paragraph("Handbook", style="Title")
    d.add_paragraph("Preface text.")
    d.add_heading("1. Leave", level=1)
    d.add_paragraph("Annual leave is 20 days.")
    d.add_paragraph("Apply in the portal", style="List Bullet")
    d.add_paragraph("Tell your manager", style="List Number")
    d.add_heading("1.1 Sick leave", level=2)
    d.add_paragraph("")  # empty paragraphs are skipped
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["Type", "Days", "Paid"], ["Sick", "10", "yes"], ["Unpaid", "", "no"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_heading("2. 経費", level=1)
    d.add_paragraph("領収書を添付してください。")
    merged = d.add_table(rows=2, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "Name"
    merged.cell(0, 2).text = "Role"
    merged.cell(1, 0).text = "Ann"
    merged.cell(1, 1).text = "Lee"
    merged.cell(1, 2).text = "Lead"
    path = tmp_path / "handbook.docx"
    d.save(str(path))
    return path


def test_docx_headings_lists_tables(docx_file: Path) -> None:
    blocks = list(load_blocks(docx_file))
    got = [(b.kind, b.text, b.heading_path) for b in blocks]
    top = ("Handbook",)
    leave = ("Handbook", "1. Leave")
    sick = ("Handbook", "1. Leave", "1.1 Sick leave")
    expenses = ("Handbook", "2. 経費")
    assert got == [
        ("heading", "Handbook", top),
        ("paragraph", "Preface text.", top),
        ("heading", "1. Leave", leave),
        ("paragraph", "Annual leave is 20 days.", leave),
        ("list_item", "Apply in the portal", leave),
        ("list_item", "Tell your manager", leave),
        ("heading", "1.1 Sick leave", sick),
        ("table_header", "Type | Days | Paid", sick),
        ("table_row", "Type: Sick | Days: 10 | Paid: yes", sick),
        ("table_row", "Type: Unpaid | Paid: no", sick),
        ("heading", "2. 経費", expenses),
        ("paragraph", "領収書を添付してください。", expenses),
        ("table_header", "Name | Name | Role", expenses),
        ("table_row", "Name: Ann | Name: Lee | Role: Lead", expenses),
    ]
    assert blocks[7].table_id == blocks[9].table_id != blocks[12].table_id
    assert all(b.page is None for b in blocks)


def test_docx_nested_table_text_is_kept(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    outer = d.add_table(rows=2, cols=2)
    outer.cell(0, 0).text, outer.cell(0, 1).text = "Key", "Value"
    outer.cell(1, 0).text = "Inner"
    outer.cell(1, 1).add_table(rows=1, cols=1).cell(0, 0).text = "nested cell text"
    path = tmp_path / "nested.docx"
    d.save(str(path))
    rows = [b.text for b in load_blocks(path) if b.kind == "table_row"]
    assert rows == ["Key: Inner | Value: nested cell text"]


# --- PPTX -------------------------------------------------------------------------------


@pytest.fixture
def pptx_file(tmp_path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    s1 = prs.slides.add_slide(prs.slide_layouts[0])
    s1.shapes.title.text = "Quarterly review"
    s1.placeholders[1].text = "Finance team"
    s2 = prs.slides.add_slide(prs.slide_layouts[1])
    s2.shapes.title.text = "Highlights"
    body = s2.placeholders[1].text_frame
    body.text = "Revenue up 12%"
    p = body.add_paragraph()
    p.text = "Costs flat"
    p.level = 1
    s2.notes_slide.notes_text_frame.text = "Mention the new office."
    s3 = prs.slides.add_slide(prs.slide_layouts[5])  # title only
    s3.shapes.title.text = "By region"
    shape = s3.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, row in enumerate([["Region", "Sales"], ["Japan", "1,200"], ["EU", "800"]]):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    s4 = prs.slides.add_slide(prs.slide_layouts[6])  # blank, no title
    box = s4.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    box.text_frame.text = "Untitled slide text"
    path = tmp_path / "deck.pptx"
    prs.save(str(path))
    return path


def test_pptx_slides_titles_tables_notes(pptx_file: Path) -> None:
    blocks = list(load_blocks(pptx_file))
    got = [(b.page, b.kind, b.text, b.heading_path) for b in blocks]
    assert got == [
        (1, "heading", "Quarterly review", ("Quarterly review",)),
        (1, "paragraph", "Finance team", ("Quarterly review",)),
        (2, "heading", "Highlights", ("Highlights",)),
        (2, "list_item", "Revenue up 12%", ("Highlights",)),
        (2, "list_item", "Costs flat", ("Highlights",)),
        (2, "text", "Mention the new office.", ("Highlights",)),
        (3, "heading", "By region", ("By region",)),
        (3, "table_header", "Region | Sales", ("By region",)),
        (3, "table_row", "Region: Japan | Sales: 1,200", ("By region",)),
        (3, "table_row", "Region: EU | Sales: 800", ("By region",)),
        (4, "paragraph", "Untitled slide text", ()),
    ]


# --- XLSX -------------------------------------------------------------------------------


@pytest.fixture
def xlsx_file(tmp_path: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Staff"
    ws.append(["Staff list 2024"])  # a title row above the header
    ws.append([])
    ws.append(["Name", "Joined", "Salary", None, "Note"])
    ws.append(["Sato", dt.datetime(2020, 4, 1), 350000.0, None, None])
    ws.append(["Kim", dt.datetime(2021, 10, 1, 9, 30), 0.5, None, "part\ntime"])
    ws.append([None, None, None, None, None])
    ws.append(["Lee", None, 1e20, "extra", True])
    fin = wb.create_sheet("Finance")
    fin.append(["In millions", None, "H1 2023"])
    fin.append([None, "Sales", "Profit"])
    fin.append(["Zone NA", 12553, 2713])
    wb.create_sheet("Empty")
    path = tmp_path / "book.xlsx"
    wb.save(str(path))
    return path


def test_xlsx_sheets_headers_and_records(xlsx_file: Path) -> None:
    blocks = list(load_blocks(xlsx_file))
    got = [(b.page, b.sheet, b.kind, b.text) for b in blocks]
    assert got == [
        (1, "Staff", "paragraph", "Staff list 2024"),
        (1, "Staff", "table_header", "Name | Joined | Salary | Column D | Note"),
        (1, "Staff", "table_row", "Name: Sato | Joined: 2020-04-01 | Salary: 350000"),
        (1, "Staff", "table_row", "Name: Kim | Joined: 2021-10-01 09:30:00 | Salary: 0.5 | Note: part time"),
        (1, "Staff", "table_row", "Name: Lee | Salary: 1e+20 | Column D: extra | Note: TRUE"),
        # Stacked header rows above the first numeric row are merged per column.
        (2, "Finance", "table_header", "In millions | Sales | H1 2023 / Profit"),
        (2, "Finance", "table_row", "In millions: Zone NA | Sales: 12553 | H1 2023 / Profit: 2713"),
    ]
    assert {b.heading_path for b in blocks if b.sheet == "Finance"} == {("Finance",)}
    assert {b.table_id for b in blocks if b.sheet == "Staff" and b.kind != "paragraph"} == {"sheet-1"}


def test_format_cell() -> None:
    assert format_cell(None) == ""
    assert format_cell(3.0) == "3"
    assert format_cell(0.1 + 0.2) == "0.3"
    assert format_cell(dt.date(2024, 1, 2)) == "2024-01-02"
    assert format_cell(False) == "FALSE"


def test_mixed_formats_xlsx(mixed_formats: Path) -> None:
    blocks = list(load_blocks(mixed_formats / "2023-half-year-analyses-by-segment.xlsx"))
    assert [b.page for b in blocks] == sorted(b.page for b in blocks if b.page is not None)
    assert {b.page for b in blocks} == {1, 2, 3, 4, 5}
    zone_na = next(b for b in blocks if b.kind == "table_row" and b.sheet == "OS-Rev.and results 30 06 2023")
    assert zone_na.text.startswith("In millions of CHF: Zone NA | Sales (a): 12553 |")


# --- CSV --------------------------------------------------------------------------------


def test_csv_records_with_quotes_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        'name,dept,note\r\nSato,HR,"likes ""tea"", coffee"\r\nKim,Eng,"two\r\nlines"\r\n,,\r\n',
        encoding="utf-8",
    )
    blocks = list(load_blocks(path))
    assert kinds_texts(blocks) == [
        ("table_header", "name | dept | note"),
        ("table_row", 'name: Sato | dept: HR | note: likes "tea", coffee'),
        ("table_row", "name: Kim | dept: Eng | note: two lines"),
    ]
    assert all(b.page is None and b.sheet is None and b.table_id == "table-1" for b in blocks)


def test_csv_shift_jis_semicolon(tmp_path: Path) -> None:
    path = tmp_path / "jp.csv"
    path.write_bytes("氏名;部署\n佐藤;人事部\n金;開発部\n".encode("cp932"))
    assert [b.text for b in load_blocks(path)] == [
        "氏名 | 部署",
        "氏名: 佐藤 | 部署: 人事部",
        "氏名: 金 | 部署: 開発部",
    ]


def test_sniff_delimiter() -> None:
    assert sniff_delimiter("a,b,c\n1,2,3\n") == ","
    assert sniff_delimiter("a\tb\tc\n1\t2,5\t3\n") == "\t"
    assert sniff_delimiter("a;b\n1,5;2\n") == ";"
    assert sniff_delimiter("single column\nvalue\n") == ","


def test_csv_unbalanced_quote_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('a,b\n1,"' + "x" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(LoadError, match="malformed CSV"):
        list(load_blocks(path))


def test_large_csv_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    long_note = "note " * 200
    with path.open("w", encoding="utf-8") as f:
        f.write("id,name,note\n")
        i = 0
        while f.tell() < 24 * 1024 * 1024:
            f.write(f'{i},name {i},"{long_note}"\n')
            i += 1
    tracemalloc.start()
    try:
        n = sum(1 for _ in load_blocks(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == i + 1
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 24 MiB file"


# --- not-a-zip Office files -------------------------------------------------------------


@pytest.mark.parametrize("ext", ["docx", "pptx", "xlsx"])
def test_office_file_that_is_not_a_zip(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"fake.{ext}"
    path.write_text("this is plain text, not an Office file")
    with pytest.raises(LoadError, match=rf"not a valid \.{ext} \(zip\) file"):
        list(load_blocks(path))


@pytest.mark.parametrize("ext", ["docx", "pptx", "xlsx"])
def test_legacy_or_encrypted_office_file(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"old.{ext}"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    with pytest.raises(LoadError, match=r"OLE container.*password"):
        list(load_blocks(path))


@pytest.mark.parametrize("ext", ["docx", "pptx", "xlsx"])
def test_zip_that_is_not_that_office_format(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"other.{ext}"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not office")
    with pytest.raises(LoadError, match=rf"not a valid \.{ext} file"):
        list(load_blocks(path))


@pytest.mark.parametrize("ext", ["docx", "pptx", "xlsx"])
def test_truncated_office_file(
    tmp_path: Path, ext: str, docx_file: Path, pptx_file: Path, xlsx_file: Path
) -> None:
    source = {"docx": docx_file, "pptx": pptx_file, "xlsx": xlsx_file}[ext]
    path = tmp_path / f"cut.{ext}"
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match=rf"(corrupt|not a valid) \.{ext}"):
        list(load_blocks(path))
