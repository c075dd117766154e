"""Spreadsheets: XLSX via openpyxl (read-only, cached values) and CSV via the csv module.

Both are streamed row by row. Each sheet (or the CSV file) is one table: rows before the
header that hold a single cell (report titles such as "3.1 Operating segments") become
paragraphs, the first row with two or more cells is the header, and every later row becomes a
``table_row`` record ``"Header: value | ..."``. In XLSX, header rows stacked above the
first numeric row (financial statements: "January–June 2023" over "Sales") are merged
column by column.

XLSX: ``page`` is the 1-based sheet index in tab order, ``sheet`` its name, and the heading
path is ``(sheet name,)``. CSV: ``page`` and ``sheet`` are None.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from ingest.loaders.base import LoadError, make_block, read_head, sniff_container
from ingest.loaders.tables import default_column_name, is_numeric, table_blocks
from ingest.loaders.text import SNIFF_BYTES, detect_encoding, iter_decoded, iter_lines
from ingest.types import Block

# Rows read ahead to find the header; memory stays bounded by this.
LOOKAHEAD_ROWS = 20
MAX_HEADER_ROWS = 3
CSV_DELIMITERS = (",", ";", "\t", "|")


def format_cell(value: Any) -> str:
    """A spreadsheet value as text: integral floats without ".0", dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _filled(row: list[str]) -> int:
    return sum(1 for c in row if c.strip())


def _merge_header(rows: list[list[str]]) -> list[str]:
    width = max(len(r) for r in rows)
    merged = []
    for i in range(width):
        parts = [" ".join(r[i].split()) for r in rows if i < len(r) and r[i].strip()]
        merged.append(" / ".join(parts))
    return merged


def rows_to_blocks(
    rows: Iterable[list[str]],
    *,
    table_id: str,
    page: int | None = None,
    sheet: str | None = None,
    heading_path: tuple[str, ...] = (),
    merge_header_rows: bool = False,
    column_name: Callable[[int], str] = default_column_name,
) -> Iterator[Block]:
    """Title paragraphs, the header block and row records of one sheet (see module docstring)."""
    it = (r for r in rows if _filled(r))
    ahead = list(islice(it, LOOKAHEAD_ROWS))
    if not ahead:
        return
    first_wide = next((i for i, r in enumerate(ahead) if _filled(r) >= 2), None)
    if first_wide is None:  # a single-column table
        first_wide = 0
    for title_row in ahead[:first_wide]:
        block = make_block(" ".join(c for c in title_row if c.strip()), "paragraph", page=page,
                           sheet=sheet, heading_path=heading_path)  # fmt: skip
        if block is not None:
            yield block
    header_end = first_wide + 1
    if merge_header_rows:
        end = first_wide
        while end < min(len(ahead), first_wide + MAX_HEADER_ROWS) and not any(
            is_numeric(c) for c in ahead[end] if c
        ):
            end += 1
        if end - first_wide > 1 and end < len(ahead) and any(is_numeric(c) for c in ahead[end] if c):
            header_end = end
    header_rows = ahead[first_wide:header_end]
    header = header_rows[0] if len(header_rows) == 1 else _merge_header(header_rows)

    def body() -> Iterator[list[str]]:
        yield from ahead[header_end:]
        yield from it

    yield from table_blocks(
        header,
        body(),
        table_id=table_id,
        page=page,
        sheet=sheet,
        heading_path=heading_path,
        column_name=column_name,
    )


def load_xlsx(path: Path) -> Iterator[Block]:
    """Blocks of an .xlsx workbook, sheet by sheet, rows streamed."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import InvalidFileException

    sniff_container(path, read_head(path), "xlsx")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError) as e:
        raise LoadError(
            path, f"not a valid .xlsx file ({type(e).__name__}: {e}): is it another Office format renamed?"
        ) from e
    except Exception as e:  # zipfile.BadZipFile, XML errors...
        raise LoadError(
            path, f"corrupt .xlsx ({type(e).__name__}: {e}): re-save it in Excel and retry"
        ) from e

    def column_letter(index: int) -> str:
        return f"Column {get_column_letter(index + 1)}"

    try:
        for number, name in enumerate(workbook.sheetnames, start=1):
            worksheet = workbook[name]
            if not hasattr(worksheet, "iter_rows"):  # a chartsheet
                continue
            if hasattr(worksheet, "reset_dimensions"):
                worksheet.reset_dimensions()  # stored dimensions are often wrong; read all rows
            rows = ([format_cell(v) for v in row] for row in worksheet.iter_rows(values_only=True))
            yield from rows_to_blocks(
                rows,
                table_id=f"sheet-{number}",
                page=number,
                sheet=name,
                heading_path=(name,),
                merge_header_rows=True,
                column_name=column_letter,
            )
    finally:
        workbook.close()


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most, equally many, fields."""
    lines = [line for line in sample.splitlines()[:6] if line.strip()]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of the sample may be cut
    best, best_score = ",", 0.0
    for d in CSV_DELIMITERS:
        counts = [len(next(csv.reader([line], delimiter=d))) - 1 for line in lines] or [0]
        score = min(counts) if len(set(counts)) == 1 else min(counts) * 0.5
        if score > best_score:
            best, best_score = d, score
    return best


def load_csv(path: Path) -> Iterator[Block]:
    """Blocks of a CSV file: one table, rows streamed through ``csv.reader``."""
    encoding = detect_encoding(path)
    pieces = iter_decoded(path, encoding)
    first = next(pieces, "")
    delimiter = sniff_delimiter(first[:SNIFF_BYTES])

    def all_pieces() -> Iterator[str]:
        yield first
        yield from pieces

    reader = csv.reader(iter_lines(all_pieces()), delimiter=delimiter)
    try:
        yield from rows_to_blocks(reader, table_id="table-1")
    except csv.Error as e:
        raise LoadError(
            path, f"malformed CSV near line {reader.line_num}: {e} (unbalanced quotes? wrong delimiter?)"
        ) from e
