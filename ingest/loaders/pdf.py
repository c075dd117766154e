"""PDF via PDFium (pypdfium2), one page at a time (``page`` is 1-based), text only (no OCR).

Why PDFium and not pypdf (measured on the 74 FinanceBench filings, 10,218 pages; see
BENCHMARKS.md "PDF parsing (FinanceBench)"): pypdf refuses valid filings whose content streams
hold more than its 100,000-element safety limit ("LimitReachedError: Reached maximum array
element count", reported as a corrupt file); PDFium parses every one. PDFium is ~10× faster
per page, and its text keeps a table row on one line ("Industrial $ 2,952 37.2 % ...") where
pypdf put each cell on a line of its own; Japanese and Korean come back the same.
PDFium is not thread-safe: documents are read from one thread at a time (the ingest pipeline
loads from a single producer thread).

Per document: every page's text is read first (a few ms a page), so that running headers,
footers and page numbers can be found (:mod:`ingest.boilerplate`) and left out of what is
emitted; a page holding only such lines yields nothing. Pages are then emitted in order.

Tables (:mod:`ingest.loaders.pdf_tables`): a page whose content holds at least
``TABLE_MIN_PATHS`` rule-like path objects (counted by PDFium at almost no cost) is searched by
pdfplumber's table finder, run on PDFium's own reading of the page's characters and edges
(:mod:`ingest.loaders.pdf_geometry`: ~0.05 s a searched page, ~4x less than pdfminer's parse,
the same tables). Each table found becomes a ``table_header`` block and ``table_row`` records
"Header: value | ..." (the spreadsheet format), with the text above, beside and below it emitted
as text around them. Table-free pages pay nothing. Which tables: ``tables=`` /
``$RAGQA_PDF_TABLES`` = "ruled" (default: grids with vertical rules or cell borders), "all"
(also the shaded-band tables of SEC filings), "off".

Period tables drawn without rules (most SEC statements) are found in the text itself
(:mod:`ingest.loaders.text_tables`: a line ending in years opens one) and become the same
``table_header`` / ``table_row`` blocks, unless tables are "off"; this costs no page geometry.

Encrypted PDFs: a PDF with only an owner password (an empty user password: it opens in any
viewer without asking, but e.g. copying is "restricted") is loaded, as every viewer does. A
PDF that needs a user password raises LoadError("encrypted PDF: ...").

A file without a ``%%EOF`` marker near its end is rejected as truncated, even though a parser
could often recover some pages: silently indexing half a document is worse than an error.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from ingest.boilerplate import find_boilerplate, strip_boilerplate
from ingest.doc_context import running_lines
from ingest.loaders.base import LoadError, make_block
from ingest.loaders.column_groups import Word, column_group_titles, printed_lines
from ingest.loaders.pdf_geometry import PageLayout, read_layout
from ingest.loaders.pdf_tables import PdfTable, find_tables
from ingest.loaders.sheet import _merge_header, rows_to_blocks
from ingest.loaders.tables import CELL_SEPARATOR, table_blocks
from ingest.loaders.text_tables import TextTable, TitleFinder, split_text_tables
from ingest.types import Block, DocumentHints

log = logging.getLogger(__name__)

# The PDF header may follow some junk bytes (the spec tolerates 1 KiB); %%EOF may be followed
# by padding or by junk appended by mail gateways.
HEADER_WINDOW = 1024
EOF_WINDOW = 64 * 1024
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")

TableMode = Literal["ruled", "all", "off"]
TABLE_MODES: tuple[str, ...] = ("ruled", "all", "off")
TABLES_ENV = "RAGQA_PDF_TABLES"
# Default "ruled", by measurement on the FinanceBench filings (BENCHMARKS.md "PDF tables from
# PDFium's geometry"): a searched page costs ~0.055 s (PDFium's characters and edges plus the
# finder; pdfminer's parse cost ~0.22-0.25 s). "ruled" searches the pages with vertical rules or
# stroked cell borders (25 % of sampled filing pages, and the grids of generated reports, price
# lists, SLAs); "all" also the shaded-band pages (61 %), which on 2 cores would take the ingest
# of filings below 90 % of the bare encoder's rate (the producer shares the encoder's cores).
DEFAULT_TABLE_MODE: TableMode = "ruled"
# A page is searched for tables when PDFium counts at least this many rule-like path objects on
# it: vertical rules and stroked cells for "ruled"; any path for "all". A text-only filing page
# draws 1-5 paths (the footer rule, a logo); a 2×2 ruled table alone draws 6 lines.
TABLE_MIN_PATHS = 6
RULE_WIDTH = 2.0  # points: a path at most this wide (and taller than its width × 3) is a vertical rule


_SENTENCE_END = tuple("。．.!?！？:：」』）)")


def _width(line: str) -> int:
    """Display width: CJK and full-width characters count 2 (they fill the line twice as fast)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def unwrap_lines(text: str, fill: float = 0.8) -> str:
    """Join lines that the PDF wrapped at the right margin back into one line.

    PDF text comes back as a paragraph's printed lines, which splits Japanese words mid-way
    ("…10日の年次有給休暇を付" / "与する。"). A line is taken as wrapped when it reaches ``fill``
    of the widest line on the page and does not end a sentence; it is joined to the next line
    with nothing between CJK characters and a space otherwise. Short lines (headings, table
    cells, a paragraph's last line) keep their line break.
    """
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    widest = max(_width(ln.rstrip()) for ln in lines)
    out: list[str] = [lines[0]]
    for nxt in lines[1:]:
        prev = out[-1].rstrip()
        wrapped = (
            widest >= 20 and _width(prev) >= fill * widest and not prev.endswith(_SENTENCE_END)
            and nxt.strip() != ""
        )
        if wrapped:
            if prev.endswith("-") and not prev.endswith("--") and nxt[:1].islower():
                out[-1] = prev[:-1] + nxt.lstrip()  # "inter-" + "national": a hyphenated word
            elif prev and _is_cjk(prev[-1]) and _is_cjk(nxt.lstrip()[:1] or " "):
                out[-1] = prev + nxt.lstrip()
            else:
                out[-1] = prev + " " + nxt.lstrip()
        else:
            out.append(nxt)
    return "\n".join(out)


def _check_envelope(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(HEADER_WINDOW)
        f.seek(max(0, size - EOF_WINDOW))
        tail = f.read()
    if b"%PDF-" not in head:
        raise LoadError(path, "corrupt or truncated PDF: no %PDF- header (is it really a PDF?)")
    if b"%%EOF" not in tail:
        raise LoadError(
            path,
            "corrupt or truncated PDF: no %%EOF marker at the end (the file was cut short?); re-export it",
        )




def table_mode(tables: str | None = None) -> TableMode:
    """``tables`` or else ``$RAGQA_PDF_TABLES`` or else DEFAULT_TABLE_MODE; anything else is an error."""
    value = (tables or os.environ.get(TABLES_ENV) or DEFAULT_TABLE_MODE).strip().lower()
    for mode in ("ruled", "all", "off"):
        if value == mode:
            return mode
    raise ValueError(f"Unknown PDF table mode {value!r} (from the argument or ${TABLES_ENV}). Supported: "
                     "'ruled' (pages with vertical rules or cell borders), 'all' (also shaded-band "
                     "tables, as in SEC filings), 'off'.")  # fmt: skip


def _open(path: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        if getattr(e, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
            raise LoadError(path, "encrypted PDF: provide the password or remove it") from e
        if getattr(e, "err_code", None) == pdfium.raw.FPDF_ERR_SECURITY:
            raise LoadError(path, "encrypted PDF with an unsupported security handler: remove the encryption") from e
        if _page_count_by_pypdf(path) == 0:
            raise LoadError(path, "PDF has no pages") from e
        raise LoadError(path, f"corrupt or truncated PDF: {type(e).__name__}: {e}") from e


def _metadata_title(document: Any) -> str | None:
    """The PDF's /Title from its information dictionary, None when absent or unreadable."""
    try:
        title = document.get_metadata_value("Title")
    except Exception:  # a malformed info dictionary costs the title, not the document
        return None
    return str(title).strip() or None


def _page_count_by_pypdf(path: Path) -> int | None:
    """A second opinion on a file PDFium refused: pypdf's page count, None if it fails too.
    PDFium rejects a well-formed PDF with an empty page tree as a "data format error"."""
    from pypdf import PdfReader

    try:
        return len(PdfReader(path, strict=False).pages)
    except Exception:
        return None


def _rule_count(page: Any, mode: TableMode) -> int:
    """Rule-like paths on the page's top level: for "all" every path object; for "ruled" the
    lines of stroked paths (a grid drawn as one path counts each of its lines) and thin
    vertical fills (Word's cell borders), not filled bands or underlines."""
    import ctypes

    import pypdfium2.raw as raw

    handle = page.raw
    n = 0
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    for j in range(raw.FPDFPage_CountObjects(handle)):
        obj = raw.FPDFPage_GetObject(handle, j)
        if raw.FPDFPageObj_GetType(obj) != raw.FPDF_PAGEOBJ_PATH:
            continue
        if mode == "all":
            n += 1
        elif raw.FPDFPath_GetDrawMode(obj, fill, stroke) and stroke.value:
            n += max(1, raw.FPDFPath_CountSegments(obj) // 2)  # (move, line) per rule
        elif raw.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
            width, height = right.value - left.value, top.value - bottom.value
            n += width <= RULE_WIDTH and height > 3 * max(width, 0.5)
    return n


def _page_lines(page: Any, box: tuple[float, float, float, float] | None = None) -> list[str]:
    """The page's text (or that inside ``box`` = (left, bottom, right, top), PDF points) as lines."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_bounded(*box) if box else textpage.get_text_bounded()
    finally:
        textpage.close()
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


class _GroupTitles:
    """A page's :data:`TitleFinder`: the page's word boxes are read on the first grouped header
    (~0.05-0.1 s; most pages have none), from ``layout`` when the page was already read."""

    def __init__(self, document: Any, number: int, layout: PageLayout | None = None) -> None:
        self._document, self._number, self._layout = document, number, layout
        self._lines: list[list[Word]] | None = None

    def __call__(self, title_line: str, header_line: str, groups: tuple[int, ...]) -> tuple[str, ...] | None:
        if self._lines is None:
            self._lines = printed_lines(self._read_words())
        return column_group_titles(self._lines, title_line, header_line, groups)

    def _read_words(self) -> list[dict[str, Any]]:
        try:
            if self._layout is not None:
                return self._layout.extract_words()
            page = self._document[self._number - 1]
            try:
                return read_layout(page).extract_words()
            finally:
                page.close()
        except Exception as e:  # the groups' titles then come from the text alone
            log.warning("page %d: word boxes unreadable: %s: %s", self._number, type(e).__name__, e)
            return []


def _text_blocks(
    lines: list[str], boilerplate: frozenset[str], page: int, *, tables: bool, region: int = 0,
    titles: TitleFinder | None = None,
) -> Iterator[Block]:
    """Paragraphs of the page's text; with ``tables``, its period tables as header-keyed rows
    (``titles`` names the column groups of a grouped header)."""
    kept = strip_boilerplate(lines, boilerplate)
    segments = split_text_tables(kept, titles) if tables else iter([kept])
    for n, segment in enumerate(segments):
        if isinstance(segment, TextTable):
            yield from _period_table_blocks(segment, page, f"p{page}-r{region}-x{n}")
            continue
        for paragraph in _PARAGRAPH_BREAK.split("\n".join(segment)):
            block = make_block(unwrap_lines(paragraph), "text", page=page)
            if block is not None:
                yield block


def _period_table_blocks(table: TextTable, page: int, table_id: str) -> Iterator[Block]:
    header = CELL_SEPARATOR.join([table.header.label, *table.header.periods] if table.header.label
                                 else table.header.periods)
    for text, kind in [(header, "table_header"), *((row, "table_row") for row in table.rows)]:
        block = make_block(text, kind, page=page, table_id=table_id, heading_path=table.title)
        if block is not None:
            yield block


def _table_blocks(table: PdfTable, page: int, table_id: str) -> Iterator[Block]:
    if table.header_rows:  # a banded table: the header rows are known
        header = _merge_header(table.rows[: table.header_rows]) if table.header_rows > 1 else table.rows[0]
        yield from table_blocks(header, table.rows[table.header_rows :], table_id=table_id, page=page)
    else:  # a ruled table: title rows, then the first wide row as header (as in a spreadsheet)
        yield from rows_to_blocks(table.rows, table_id=table_id, page=page, merge_header_rows=True)


def _regions(
    tables: list[PdfTable], width: float, height: float
) -> Iterator[tuple[float, float, float, float] | PdfTable]:
    """Text boxes (PDF points: left, bottom, right, top) around ``tables``, and the tables, in
    reading order: the band above each table, the strips beside it, the table; then the rest."""
    cursor = 0.0  # pdfplumber's frame: distance from the top of the page
    for i, t in enumerate(tables):
        x0, top, x1, bottom = t.bbox
        if top > cursor:
            yield (0.0, height - top, width, height - cursor)
        beside = not any(o.bbox[1] < bottom and o.bbox[3] > top for k, o in enumerate(tables) if k != i)
        if beside and x0 > 1:
            yield (0.0, height - bottom, x0, height - top)
        if beside and x1 < width - 1:
            yield (x1, height - bottom, width, height - top)
        yield t
        cursor = max(cursor, bottom)
    if cursor < height:
        yield (0.0, 0.0, width, height - cursor)


def _page_blocks(path: Path, document: Any, number: int, lines: list[str], boilerplate: frozenset[str]) -> Iterator[Block]:
    """Blocks of a page searched for tables: its tables, and the text around them in reading order."""
    page = document[number - 1]
    try:
        layout = None
        try:
            layout = read_layout(page)
            found = find_tables(layout)
        except Exception as e:  # a table finder failure costs the tables, not the text
            log.warning("%s: page %d: table extraction failed: %s: %s", path, number, type(e).__name__, e)
            found = []
        titles = _GroupTitles(document, number, layout)
        if not found:
            yield from _text_blocks(lines, boilerplate, number, tables=True, titles=titles)
            return
        left, bottom, right, top = page.get_mediabox()
        n_tables = 0
        for n_region, region in enumerate(_regions(found, right - left, top - bottom)):
            if isinstance(region, PdfTable):
                n_tables += 1
                yield from _table_blocks(region, number, f"p{number}-t{n_tables}")
                continue
            x0, y0, x1, y1 = region
            # inset: PDFium returns every character that touches the box
            box = (left + x0 + 1, bottom + y0 + 1, left + x1 - 1, bottom + y1 - 1)
            yield from _text_blocks(_page_lines(page, box), boilerplate, number, tables=True, region=n_region,
                                    titles=titles)
    finally:
        page.close()


def load_pdf(path: Path, *, tables: str | None = None) -> Iterator[Block]:
    """Blocks of a PDF: per page, ``text`` blocks (boilerplate left out) and table blocks."""
    mode = table_mode(tables)
    _check_envelope(path)
    document = _open(path)
    try:
        n_pages = len(document)
        if n_pages == 0:
            raise LoadError(path, "PDF has no pages")
        pages: list[list[str]] = []
        candidates: set[int] = set()
        failed: list[int] = []
        for number in range(1, n_pages + 1):
            try:
                page = document[number - 1]
                try:
                    pages.append(_page_lines(page))
                    if mode != "off" and _rule_count(page, mode) >= TABLE_MIN_PATHS:
                        candidates.add(number)
                finally:
                    page.close()
            except Exception as e:  # one malformed page must not lose the rest of the document
                log.warning("%s: page %d: text extraction failed: %s: %s", path, number, type(e).__name__, e)
                failed.append(number)
                pages.append([])
        boilerplate = find_boilerplate(pages)
        # on the first block: what the document context (ingest.doc_context) reads besides the text
        hints = DocumentHints(_metadata_title(document), running_lines(pages, boilerplate))
        found_text = False
        for number, lines in enumerate(pages, start=1):
            if number in candidates:
                blocks = _page_blocks(path, document, number, lines, boilerplate)
            else:
                blocks = _text_blocks(lines, boilerplate, number, tables=mode != "off",
                                      titles=_GroupTitles(document, number))
            for block in blocks:
                yield block if found_text else replace(block, document=hints)
                found_text = True
        if not found_text:
            if failed:
                raise LoadError(
                    path,
                    f"corrupt PDF: text extraction failed on pages {failed[:10]} and found no text elsewhere",
                )
            if boilerplate and any(any(line.strip() for line in lines) for lines in pages):
                raise LoadError(path, "no text but running headers and footers (every line repeats on most pages)")
            raise LoadError(path, "no extractable text (scanned PDF? OCR is not supported)")
    finally:
        document.close()
