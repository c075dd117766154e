"""A cited PDF page rendered to PNG, with the cited passage boxed (pypdfium2, offline).

Finding the passage: the chunk's text came from another PDF text extractor than pdfium's, so
both sides are compared *normalised*: NFKC, case-folded, whitespace removed, keeping for every
normalised character the index of the pdfium character it came from. A sentence found whole is
boxed whole; one that is not (it runs onto the next page, or the extractors disagree on a
character) is looked for by its head and its tail. pdfium then gives the rectangles of those
character ranges, in PDF points from the bottom-left, which are scaled onto the image.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RENDER_SCALE = 1.6  # pixels per PDF point: 72 dpi * 1.6 = 115 dpi, legible Japanese at card width
PIECE_CHARS = 16  # head / tail length (normalised chars) tried when a whole sentence is not found
MIN_CELL_CHARS = 2  # shortest table cell value looked for (cells are searched in reading order)
HIGHLIGHT_RGBA = (255, 214, 0, 90)
OUTLINE_RGBA = (230, 120, 0, 255)
INSTALL_HINT = 'pip install "pypdfium2>=4.30"'

Box = tuple[float, float, float, float]  # (left, top, right, bottom) in image pixels


@dataclass(frozen=True, slots=True)
class RenderedPage:
    png: bytes
    page: int  # 1-based
    pages: int  # pages in the document
    boxes: tuple[Box, ...]  # where the passage was found; () when it was not

    @property
    def found(self) -> bool:
        return bool(self.boxes)


def normalise_with_map(text: str) -> tuple[str, list[int]]:
    """(normalised text, for each of its characters the index in ``text`` it came from)."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if not c.isspace():
                out.append(c)
                where.append(i)
    return "".join(out), where


def find_ranges(page_text: str, passages: Sequence[str]) -> list[tuple[int, int]]:
    """(start, count) character ranges of ``page_text`` holding each passage: whole, else its
    head and tail, else (a table row, "Header: value | Header: value") its cell values in order."""
    norm, where = normalise_with_map(page_text)
    ranges: list[tuple[int, int]] = []
    for p in passages:
        for at, length in _locate(norm, p):
            a, b = where[at], where[at + length - 1]
            ranges.append((a, b - a + 1))
    return ranges


def _locate(norm: str, passage: str) -> list[tuple[int, int]]:
    """(offset, length) matches in the normalised page text ``norm``."""
    needle, _ = normalise_with_map(passage)
    if not needle:
        return []
    if (at := norm.find(needle)) >= 0:
        return [(at, len(needle))]
    if len(needle) >= 2 * PIECE_CHARS:  # a shorter piece would match by chance
        ends = [(at, PIECE_CHARS) for piece in (needle[:PIECE_CHARS], needle[-PIECE_CHARS:])
                if (at := norm.find(piece)) >= 0]
        if ends:
            return ends
    if "|" not in passage:
        return []
    found, pos = [], 0
    for cell in passage.split("|"):
        value, _ = normalise_with_map(cell.split(": ", 1)[-1])
        if len(value) >= MIN_CELL_CHARS and (at := norm.find(value, pos)) >= 0:
            found.append((at, len(value)))
            pos = at + len(value)
    return found


def _pdfium() -> Any:
    try:
        import pypdfium2
    except ImportError:
        raise ImportError(f"rendering PDF pages needs pypdfium2: {INSTALL_HINT}") from None
    return pypdfium2


def render_page(path: Path | str, page: int, passages: Sequence[str], scale: float = RENDER_SCALE) -> RenderedPage:
    """Page ``page`` (1-based) of the PDF at ``path`` as PNG with ``passages`` boxed.
    ValueError for a page the document does not have; the pdfium error for an unreadable file."""
    pdfium = _pdfium()
    pdf = pdfium.PdfDocument(str(path))
    try:
        n_pages = len(pdf)
        if not 1 <= page <= n_pages:
            raise ValueError(f"page {page} is not in {Path(path).name} (pages 1-{n_pages})")
        pg = pdf[page - 1]
        textpage = pg.get_textpage()
        text = textpage.get_text_range(0, textpage.count_chars())
        height = pg.get_size()[1]
        boxes: list[Box] = []
        for start, count in find_ranges(text, passages):
            for i in range(textpage.count_rects(start, count)):
                left, bottom, right, top = textpage.get_rect(i)
                boxes.append((left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
        image = pg.render(scale=scale).to_pil()
    finally:
        pdf.close()
    return RenderedPage(png=_draw(image, boxes), page=page, pages=n_pages, boxes=tuple(boxes))


def _draw(image: Any, boxes: Sequence[Box]) -> bytes:
    from PIL import Image, ImageDraw

    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for left, top, right, bottom in boxes:
        draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=HIGHLIGHT_RGBA, outline=OUTLINE_RGBA, width=2)
    out = io.BytesIO()
    Image.alpha_composite(base, overlay).convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_cited_page(path: Path | str, page: int | None, passages: Sequence[str]) -> RenderedPage:
    """The chunk's page, or the next one when the passage lies only there (a chunk that starts
    at the foot of a page); the chunk's page unmarked when neither holds it."""
    first = render_page(path, page or 1, passages)
    if first.found or first.page >= first.pages:
        return first
    nxt = render_page(path, first.page + 1, passages)
    return nxt if nxt.found else first
