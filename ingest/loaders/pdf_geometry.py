"""A PDF page's characters and ruling edges read with PDFium, for pdfplumber's table finder.

pdfplumber's table finder (``pdfplumber.table.TableFinder``: edges -> intersections -> cells ->
tables, and ``Table.extract``) needs only a page's characters, its straight edges and its box,
as dicts in pdfplumber's format. pdfplumber gets them from pdfminer, whose pure-Python parse of
a whole page costs ~0.5-0.8 s on a table-heavy SEC filing page; PDFium has already parsed the
page for its text, and reading the same objects from it costs a few ms (measured in
BENCHMARKS.md "PDF tables from PDFium's geometry"). :class:`PageLayout` is that page: the
characters and edges, with the four page methods the finder and :mod:`ingest.loaders.pdf_tables`
call (``find_tables``, ``extract_words``, ``crop``, ``bbox``).

Frame (pdfplumber's): points, x from the media box's left edge, ``top``/``bottom`` measured down
from the media box's top edge. Page rotation is not applied: characters, edges and the boxes
handed back to PDFium's ``get_text_bounded`` all stay in the unrotated page space.

Edges: every straight, axis-aligned segment of every path object (nested form objects
included), whether stroked or filled, as pdfminer turns lines, rectangles and polylines into
edges; a segment counts as horizontal or vertical within ``AXIS_TOLERANCE``. Bezier segments are
not edges. Characters: PDFium's loose box (font ascent to descent, advance width), the box
pdfminer gives; PDFium's generated line breaks are left out, and its generated spaces stand
where the content stream's space glyphs were (see :func:`_chars`).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["PageLayout", "read_layout"]

# points: a segment whose ends differ by less than this in x (in y) is vertical (horizontal)
AXIS_TOLERANCE = 0.01
UPRIGHT_RADIANS = 0.01  # a character turned by less than this is upright
MAX_FORM_DEPTH = 8  # nested form XObjects followed this deep


@dataclass(frozen=True, slots=True)
class PageLayout:
    """A page (or a crop of it) as pdfplumber's table finder reads it."""

    bbox: tuple[float, float, float, float]  # (x0, top, x1, bottom), points
    chars: list[dict[str, Any]]
    edges: list[dict[str, Any]]

    def find_tables(self, table_settings: dict[str, Any] | None = None) -> list[Any]:
        """pdfplumber ``Table`` objects found on this layout with ``table_settings``."""
        from pdfplumber.table import TableFinder, TableSettings

        return list(TableFinder(self, TableSettings.resolve(table_settings)).tables)  # type: ignore[arg-type]

    def extract_words(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Words of this layout's characters (pdfplumber's word extractor and its options)."""
        from pdfplumber.utils import extract_words

        return list(extract_words(self.chars, **kwargs))

    def crop(self, bbox: tuple[float, float, float, float], strict: bool = True) -> PageLayout:
        """The characters and edges inside ``bbox`` (edges clipped to it); ``strict`` refuses a
        box that reaches outside this layout's, as pdfplumber's ``Page.crop`` does."""
        from pdfplumber.utils import crop_to_bbox

        x0, top, x1, bottom = self.bbox
        if strict and not (bbox[0] >= x0 and bbox[1] >= top and bbox[2] <= x1 and bbox[3] <= bottom):
            raise ValueError(f"Bounding box {bbox} is not fully within the page's {self.bbox}")
        chars = crop_to_bbox(_touching(self.chars, bbox), bbox)
        return PageLayout(bbox, chars, crop_to_bbox(_touching(self.edges, bbox), bbox))


def _touching(objs: list[dict[str, Any]], bbox: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """The objects whose box meets ``bbox`` (a cheap pass before pdfplumber clips each one)."""
    x0, top, x1, bottom = bbox
    return [o for o in objs if o["x0"] <= x1 and o["x1"] >= x0 and o["top"] <= bottom and o["bottom"] >= top]


def read_layout(page: Any, textpage: Any | None = None) -> PageLayout:
    """The layout of a pypdfium2 ``PdfPage`` (its text page is opened and closed here unless given)."""
    left, bottom, right, top = page.get_mediabox()
    frame = _Frame(left, top)
    text = page.get_textpage() if textpage is None else textpage
    try:
        chars = list(_chars(text, frame))
    finally:
        if textpage is None:
            text.close()
    edges = [frame.edge(p, q) for p, q in _segments(page.raw)]
    return PageLayout((0.0, 0.0, right - left, top - bottom), chars, edges)


@dataclass(frozen=True, slots=True)
class _Frame:
    """PDF user space (origin bottom-left) to pdfplumber's frame (origin top-left of the media box)."""

    left: float
    top: float

    def box(self, x0: float, y0: float, x1: float, y1: float) -> dict[str, float]:
        top, bottom = self.top - max(y0, y1), self.top - min(y0, y1)
        x0, x1 = min(x0, x1) - self.left, max(x0, x1) - self.left
        return {"x0": x0, "x1": x1, "top": top, "bottom": bottom, "doctop": top,
                "y0": min(y0, y1), "y1": max(y0, y1), "width": x1 - x0, "height": bottom - top}  # fmt: skip

    def edge(self, p: tuple[float, float], q: tuple[float, float]) -> dict[str, Any]:
        vertical = abs(p[0] - q[0]) < AXIS_TOLERANCE
        q = (p[0], q[1]) if vertical else (q[0], p[1])  # exactly axis-aligned, as pdfplumber compares
        out: dict[str, Any] = self.box(p[0], p[1], q[0], q[1])
        out["object_type"] = "line"
        out["orientation"] = "v" if vertical else "h"
        return out


def _chars(textpage: Any, frame: _Frame) -> Iterator[dict[str, Any]]:
    """The page's characters. PDFium replaces the space glyphs of the content stream by spaces
    it generates (zero width, at the line's baseline); each is given the box between the
    characters on either side, so that words split where pdfminer's real spaces split them."""
    import pypdfium2.raw as raw

    handle = textpage.raw
    rect = raw.FS_RECTF()
    prev: dict[str, Any] | None = None
    space = False  # a generated space is pending between ``prev`` and the next character
    for i in range(raw.FPDFText_CountChars(handle)):
        code = raw.FPDFText_GetUnicode(handle, i)
        if raw.FPDFText_IsGenerated(handle, i) == 1:
            space = space or code == 32
            if code in (10, 13):
                prev, space = None, False  # a line break: the space would span two lines
            continue
        hyphen = raw.FPDFText_IsHyphen(handle, i) == 1  # a hyphen at a line's end comes back as U+0002
        if code in (0, 0xFFFE, 0xFFFF, 10, 13) and not hyphen:
            continue
        if not raw.FPDFText_GetLooseCharBox(handle, i, rect):
            continue
        char: dict[str, Any] = frame.box(rect.left, rect.bottom, rect.right, rect.top)
        angle = raw.FPDFText_GetCharAngle(handle, i)  # radians, -1 when unknown
        char["text"] = "-" if hyphen else chr(code)
        char["upright"] = angle < 0 or min(angle, 2 * math.pi - angle) < UPRIGHT_RADIANS
        char["object_type"] = "char"
        if space and prev is not None and char["x0"] > prev["x1"]:
            gap = dict(prev, text=" ", x0=prev["x1"], x1=char["x0"], width=char["x0"] - prev["x1"])
            gap["y0"], gap["y1"] = prev["y0"], prev["y1"]
            yield gap
        space = False
        prev = char
        yield char


def _segments(page_handle: Any) -> Iterator[tuple[tuple[float, float], tuple[float, float]]]:
    """Axis-aligned straight segments of the page's path objects, in user space: (start, end)."""
    import pypdfium2.raw as raw

    count, get = raw.FPDFPage_CountObjects, raw.FPDFPage_GetObject
    yield from _object_segments(page_handle, count, get, _IDENTITY, 0)


_Matrix = tuple[float, float, float, float, float, float]  # (a, b, c, d, e, f) as in the PDF spec
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _object_segments(
    parent: Any, count: Any, get: Any, outer: _Matrix, depth: int
) -> Iterator[tuple[tuple[float, float], tuple[float, float]]]:
    import pypdfium2.raw as raw

    m = raw.FS_MATRIX()
    for j in range(count(parent)):
        obj = get(parent, j)
        kind = raw.FPDFPageObj_GetType(obj)
        if kind not in (raw.FPDF_PAGEOBJ_PATH, raw.FPDF_PAGEOBJ_FORM):
            continue
        own = (m.a, m.b, m.c, m.d, m.e, m.f) if raw.FPDFPageObj_GetMatrix(obj, m) else _IDENTITY
        matrix = _compose(own, outer)
        if kind == raw.FPDF_PAGEOBJ_FORM:
            if depth < MAX_FORM_DEPTH:
                yield from _object_segments(obj, raw.FPDFFormObj_CountObjects, raw.FPDFFormObj_GetObject,
                                            matrix, depth + 1)  # fmt: skip
            continue
        yield from _path_segments(obj, matrix)


def _path_segments(path: Any, matrix: _Matrix) -> Iterator[tuple[tuple[float, float], tuple[float, float]]]:
    import pypdfium2.raw as raw

    x, y = ctypes.c_float(), ctypes.c_float()
    start = last = None
    for k in range(raw.FPDFPath_CountSegments(path)):
        seg = raw.FPDFPath_GetPathSegment(path, k)
        if not raw.FPDFPathSegment_GetPoint(seg, x, y):
            continue
        point = _apply(matrix, x.value, y.value)
        kind = raw.FPDFPathSegment_GetType(seg)
        if kind == raw.FPDF_SEGMENT_LINETO and last is not None and _axis_aligned(last, point):
            yield last, point
        if kind == raw.FPDF_SEGMENT_MOVETO:
            start = point
        last = point
        if raw.FPDFPathSegment_GetClose(seg) and start is not None:
            if _axis_aligned(point, start) and point != start:
                yield point, start
            last = start


def _axis_aligned(p: tuple[float, float], q: tuple[float, float]) -> bool:
    dx, dy = abs(p[0] - q[0]), abs(p[1] - q[1])
    return (dx < AXIS_TOLERANCE) != (dy < AXIS_TOLERANCE)  # one of them, not a zero-length segment


def _compose(inner: _Matrix, outer: _Matrix) -> _Matrix:
    """The matrix applying ``inner`` then ``outer``."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _apply(m: _Matrix, x: float, y: float) -> tuple[float, float]:
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
