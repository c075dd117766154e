"""Tables on a PDF page, found with pdfplumber's table finder, as rows of cell strings.

Two layouts are handled:

* **Ruled tables** (a grid of lines or cell rectangles: most generated reports, the Korean
  fixture): pdfplumber's default "lines" strategy returns the cells as they are.
* **Banded tables** (SEC filings printed from EDGAR HTML: every other row sits on a shaded
  rectangle, with no vertical rules). The "lines" strategy sees each shaded row as a one-row
  table of its own. Such one-row tables stacked with the same left and right edges are taken as
  one table: its body is re-read from the page with the shaded rows' cell edges as explicit
  column boundaries and text rows as row boundaries (which also picks up the unshaded rows in
  between), and the header is read from the lines just above the body (column titles such as
  "Net Sales" sit above the first shaded row), each phrase placed in the column under its centre.

Columns that hold nothing, only a currency sign ("$", put in front of the next column's value)
or only "%" / ")" (appended to the previous column's value) are folded, so a record reads
"Net Sales: $ 2,952" rather than "Column 2: $ | Column 3: 2,952".

Everything here takes a ``pdfplumber.page.Page``; coordinates are pdfplumber's (points, origin
top-left: ``(x0, top, x1, bottom)``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

from ingest.loaders.base import squash_spaces

__all__ = ["PdfTable", "find_tables", "fold_columns"]

_CURRENCY = frozenset("$€£¥")
_TRAILERS = frozenset({"%", ")", "%)", ")%"})
MAX_HEADER_LINES = 4  # header lines read above a banded table's body
# A header line above a banded body whose words run, without a gap of more than this many
# points, over more than PARAGRAPH_WIDTH of the table's width is a paragraph: the header stops.
WORD_GAP = 6.0
PARAGRAPH_WIDTH = 0.6


@dataclass(frozen=True, slots=True)
class PdfTable:
    """One table: its box on the page and its rows (header first), cells as one-line strings."""

    bbox: tuple[float, float, float, float]  # (x0, top, x1, bottom), pdfplumber's frame
    rows: list[list[str]]
    header_rows: int = 0  # banded tables: how many of ``rows`` are column titles (0: not known)


@dataclass
class _Column:
    x0: float
    x1: float
    cells: list[str]


def fold_columns(rows: Sequence[Sequence[str | None]], *, header_rows: int = 0) -> list[list[str]]:
    """Rows with empty, currency-only and "%"/")"-only columns folded into their neighbours.

    Whether a column is currency-only is decided on the rows after the first ``header_rows``.
    """
    return _transpose(_fold(_columns(rows, None), header_rows))


def _columns(rows: Sequence[Sequence[str | None]], edges: Sequence[float] | None) -> list[_Column]:
    width = max((len(r) for r in rows), default=0)
    cols = []
    for j in range(width):
        x0, x1 = (edges[j], edges[j + 1]) if edges is not None and j + 1 < len(edges) else (j, j + 1)
        cols.append(_Column(x0, x1, [squash_spaces(r[j] or "") if j < len(r) else "" for r in rows]))
    return cols


def _fold(cols: list[_Column], header_rows: int = 0) -> list[_Column]:
    def only(col: _Column, allowed: frozenset[str]) -> bool:
        filled = [c for c in col.cells[header_rows:] if c]
        return bool(filled) and all(c in allowed for c in filled)

    cols = [c for c in cols if any(c.cells)]
    out: list[_Column] = []
    pending: _Column | None = None  # a currency column waiting for its values
    for col in cols:
        if only(col, _CURRENCY):
            pending = col
            continue
        if pending is not None:
            col = _Column(pending.x0, col.x1, [_join(a, b) for a, b in zip(pending.cells, col.cells, strict=True)])
            pending = None
        if out and only(col, _TRAILERS):
            prev = out[-1]
            prev.cells = [a + b if a and i >= header_rows else _join(a, b)
                          for i, (a, b) in enumerate(zip(prev.cells, col.cells, strict=True))]  # fmt: skip
            prev.x1 = col.x1
            continue
        out.append(col)
    if pending is not None:
        out.append(pending)
    return out


def _join(a: str, b: str) -> str:
    """Two folded cells as one; a spanning title copied into both is kept once."""
    if not a or not b or a == b:
        return a or b
    return f"{a} {b}"


def _transpose(cols: list[_Column]) -> list[list[str]]:
    if not cols:
        return []
    return [[c.cells[i] for c in cols] for i in range(len(cols[0].cells))]


def find_tables(page: Any) -> list[PdfTable]:
    """The tables on ``page`` (a pdfplumber Page), top to bottom."""
    found = page.find_tables()
    tables: list[PdfTable] = []
    bands: list[list[Any]] = []  # runs of stacked one-row tables
    for t in sorted(found, key=lambda t: (t.bbox[1], t.bbox[0])):
        if len(t.rows) >= 2:
            rows = fold_columns(t.extract())
            if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
                tables.append(PdfTable(tuple(t.bbox), rows))
            continue
        x0, top, x1, _ = t.bbox
        if bands:
            last = bands[-1][-1]
            lx0, _, lx1, lbottom = last.bbox
            row_height = max(last.bbox[3] - last.bbox[1], 1.0)
            if abs(lx0 - x0) < 3 and abs(lx1 - x1) < 3 and top - lbottom < 3 * row_height:
                bands[-1].append(t)
                continue
        bands.append([t])
    for band in bands:
        top = band[0].bbox[1]
        ceiling = max((t.bbox[3] for t in tables if t.bbox[3] <= top), default=0.0)
        table = _banded_table(page, band, ceiling)
        if table is not None:
            tables.append(table)
    return sorted(tables, key=lambda t: t.bbox[1])


def _banded_table(page: Any, band: list[Any], ceiling: float) -> PdfTable | None:
    if len(band) < 2:
        return None  # one shaded line is a highlight, not a table
    x0 = min(t.bbox[0] for t in band)
    x1 = max(t.bbox[2] for t in band)
    top = min(t.bbox[1] for t in band)
    bottom = max(t.bbox[3] for t in band)
    edges = sorted({round(v, 1) for t in band for row in t.rows for cell in row.cells if cell
                    for v in (cell[0], cell[2])})  # fmt: skip
    if len(edges) < 3:
        return None
    body_box = (x0 - 0.5, top - 0.5, x1 + 0.5, bottom + 0.5)
    body = page.crop(body_box).find_tables(
        {"vertical_strategy": "explicit", "explicit_vertical_lines": edges, "horizontal_strategy": "text"}
    )
    if not body:
        return None
    body_rows = [r for t in body for r in t.extract()]
    n_cols = len(edges) - 1
    body_rows = [list(r[:n_cols]) + [""] * (n_cols - len(r)) for r in body_rows]
    header_rows, header_top = _header_above(page, x0, x1, top, edges, ceiling)
    cols = _fold(_columns(header_rows + body_rows, edges), len(header_rows))
    rows = _transpose(cols)
    if len(rows) < 2 or len(cols) < 2:
        return None
    return PdfTable((x0, header_top, x1, bottom), rows, header_rows=len(header_rows))


def _header_above(
    page: Any, x0: float, x1: float, top: float, edges: Sequence[float], ceiling: float
) -> tuple[list[list[str | None]], float]:
    """Column titles on the lines right above a banded body (below ``ceiling``), as rows over
    its columns, top line first; and the top of the topmost title line."""
    above = page.crop((x0 - 0.5, max(ceiling, top - 80), x1 + 0.5, top - 0.5), strict=False)
    words = above.extract_words(x_tolerance=1.5)
    if not words:
        return [], top
    lines: list[list[dict[str, Any]]] = []
    for w in sorted(words, key=lambda w: (-w["bottom"], w["x0"])):  # bottom line first
        if lines and abs(lines[-1][0]["bottom"] - w["bottom"]) < 2:
            lines[-1].append(w)
        else:
            lines.append([w])
    height = median(w["bottom"] - w["top"] for w in words)
    kept: list[list[dict[str, Any]]] = []
    edge = top
    for line in lines[:MAX_HEADER_LINES]:
        line.sort(key=lambda w: w["x0"])
        bottom = max(w["bottom"] for w in line)
        if edge - bottom > 1.5 * height or _is_paragraph(line, x1 - x0):
            break
        kept.append(line)
        edge = min(w["top"] for w in line)
    if not kept:
        return [], top
    n_cols = len(edges) - 1
    centres = [(edges[j] + edges[j + 1]) / 2 for j in range(n_cols)]
    placed = [_phrases(line) for line in reversed(kept)]  # top line first
    titled = {_column_at(edges, c) for _, c, _ in placed[-1]}  # columns named by the lowest line
    rows: list[list[str | None]] = []
    for i, phrases in enumerate(placed):
        row: list[str | None] = [""] * n_cols
        for phrase, centre, _ in phrases:
            j = _column_at(edges, centre)
            row[j] = f"{row[j]} {phrase}".strip()
        if i < len(placed) - 1:
            # A title wider than its column, above the lowest line, spans the columns around
            # it ("Three months ended" over "Net Sales", "% of Total", "Oper. Income"): it
            # also names the titled columns whose centre lies within half its width of it.
            for phrase, centre, width in phrases:
                own = _column_at(edges, centre)
                if width <= 1.2 * (edges[own + 1] - edges[own]):
                    continue
                for j in titled:
                    if j > 0 and not row[j] and abs(centres[j] - centre) <= width:
                        row[j] = phrase
        rows.append(row)
    return rows, edge


def _is_paragraph(line: list[dict[str, Any]], table_width: float) -> bool:
    run_start, longest = line[0]["x0"], 0.0
    for prev, w in itertools.pairwise(line):
        if w["x0"] - prev["x1"] > WORD_GAP:
            run_start = w["x0"]
        longest = max(longest, w["x1"] - run_start)
    longest = max(longest, line[0]["x1"] - line[0]["x0"])
    return longest > PARAGRAPH_WIDTH * table_width


def _phrases(line: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """Words joined into phrases where they are closer than WORD_GAP; (text, x centre, width)."""
    out: list[tuple[str, float, float]] = []
    start = line[0]
    text = [start["text"]]
    end = start["x1"]
    for w in line[1:]:
        if w["x0"] - end > WORD_GAP:
            out.append((" ".join(text), (start["x0"] + end) / 2, end - start["x0"]))
            start, text = w, []
        text.append(w["text"])
        end = w["x1"]
    out.append((" ".join(text), (start["x0"] + end) / 2, end - start["x0"]))
    return out


def _column_at(edges: Sequence[float], x: float) -> int:
    for j in range(len(edges) - 1):
        if x < edges[j + 1]:
            return j
    return len(edges) - 2
