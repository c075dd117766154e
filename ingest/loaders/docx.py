"""DOCX via python-docx: body paragraphs and tables in document order.

Headings come from the paragraph style ("Title", "Heading 1".."Heading 9", also localised
names ending in a digit such as "見出し 1") or from an explicit outline level. Numbered or
bulleted paragraphs are ``list_item``. Tables give a header block and one record per row;
horizontally merged cells are read once. Headers, footers, footnotes, comments and text
boxes are not read. ``page`` is None: a .docx has no stored page layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.loaders.base import LoadError, Outline, make_block, read_head, sniff_container
from ingest.loaders.tables import table_blocks
from ingest.types import Block

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

_HEADING_STYLE = re.compile(r"^(?:heading|見出し|überschrift|titre|título|titolo)\s*(\d)$", re.IGNORECASE)
_LIST_STYLE = re.compile(r"list", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def heading_level(paragraph: Paragraph) -> int | None:
    """1-9 for a heading paragraph, 0 for a Title, None for body text."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 0
    m = _HEADING_STYLE.match(name.strip())
    if m is not None:
        return int(m.group(1))
    # Outline level set directly on the paragraph or on its style (w:outlineLvl, 0-based).
    for ppr in (paragraph._p.pPr, getattr(getattr(style, "element", None), "pPr", None)):
        if ppr is None:
            continue
        lvl = ppr.find(f"{_W}outlineLvl")
        if lvl is not None:
            value = int(lvl.get(f"{_W}val", "9"))
            if value < 9:  # 9 means "body text"
                return value + 1
    return None


def _is_list_item(paragraph: Paragraph) -> bool:
    ppr = paragraph._p.pPr
    if ppr is not None and ppr.find(f"{_W}numPr") is not None:
        return True
    style = paragraph.style
    return style is not None and bool(_LIST_STYLE.search(style.name or ""))


def _cell_text(tc: Any, parent: Any) -> str:
    """All paragraphs of a cell, nested tables' included (python-docx's ``cell.text`` skips them)."""
    from docx.text.paragraph import Paragraph

    return "\n".join(Paragraph(p, parent).text for p in tc.iter(f"{_W}p"))


def _table_rows(table: Table) -> list[list[str]]:
    """Cell texts aligned to the table grid. A horizontally merged cell (returned once per grid
    column it spans) keeps its text in the first column; the header row repeats it instead,
    so that every column of a row below has a name."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous: Any = None
        for cell in row.cells:
            if cell._tc is previous:
                cells.append(cells[-1] if not rows else "")
                continue
            previous = cell._tc
            cells.append(_cell_text(cell._tc, table))
        rows.append(cells)
    return rows


def _iter_body(document: Any) -> Iterator[Paragraph | Table]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document.element.body
    for child in body.iterchildren():
        if child.tag == f"{_W}p":
            yield Paragraph(child, document)
        elif child.tag == f"{_W}tbl":
            yield Table(child, document)
        elif child.tag == f"{_W}sdt":  # content control wrapping body content (e.g. a TOC)
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                for inner in content.iterchildren():
                    if inner.tag == f"{_W}p":
                        yield Paragraph(inner, document)
                    elif inner.tag == f"{_W}tbl":
                        yield Table(inner, document)


def load_docx(path: Path) -> Iterator[Block]:
    """Blocks of a .docx in reading order."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    sniff_container(path, read_head(path), "docx")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as e:
        raise LoadError(
            path, f"not a valid .docx file ({type(e).__name__}: {e}): is it another Office format renamed?"
        ) from e
    except Exception as e:  # zipfile.BadZipFile, lxml.etree.XMLSyntaxError, ...
        raise LoadError(path, f"corrupt .docx ({type(e).__name__}: {e}): re-save it in Word and retry") from e
    outline = Outline()
    for item in _iter_body(document):
        path_now = outline.path
        if isinstance(item, Table):
            rows = [r for r in _table_rows(item) if any(c.strip() for c in r)]
            if not rows:
                continue
            outline.tables += 1
            if len(rows) == 1 or max(len(r) for r in rows) == 1:
                # Layout table (one row or one column): plain text, not records.
                for r in rows:
                    block = make_block(
                        "\n".join(c for c in r if c.strip()), "paragraph", heading_path=path_now
                    )
                    if block is not None:
                        yield block
                continue
            yield from table_blocks(rows[0], rows[1:], table_id=f"table-{outline.tables}", heading_path=path_now)
            continue
        text = item.text
        if not text.strip():
            continue
        level = heading_level(item)
        if level is not None:
            title = " ".join(text.split())
            outline.enter(level, title)
            block = make_block(title, "heading", heading_path=outline.path)
        else:
            kind = "list_item" if _is_list_item(item) else "paragraph"
            block = make_block(text, kind, heading_path=path_now)
        if block is not None:
            yield block
