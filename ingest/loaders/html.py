"""HTML via BeautifulSoup (lxml when installed, else html.parser).

Scripts, styles, navigation, forms' hidden parts and ``display:none`` elements are dropped.
``h1``-``h6`` build the heading path. Data tables become header + record blocks; tables used
for layout (nested tables, a single row or column) are read as ordinary containers.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.loaders.base import Outline, make_block
from ingest.loaders.tables import is_numeric, table_blocks
from ingest.loaders.text import SNIFF_BYTES, binary_error, looks_binary
from ingest.types import Block

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

DROP_TAGS = (
    "script", "style", "nav", "noscript", "template", "head", "svg", "canvas",
    "iframe", "object", "embed", "map", "select", "button",
)  # fmt: skip
HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements that start a new block; any other element is inline and joins the running text.
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header",
        "hr", "html", "li", "main", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul", "br",
        *HEADINGS,
    }
)  # fmt: skip
# Leaf-like blocks emitted as one block each (their block-level children are read as lines).
_TEXT_BLOCKS = frozenset({"p", "dt", "dd", "caption", "figcaption", "address", "summary"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SPACE = re.compile(r"[^\S\n]+")


def _soup(data: bytes) -> BeautifulSoup:
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    try:
        import lxml  # noqa: F401

        features = "lxml"
    except ImportError:
        features = "html.parser"
    with warnings.catch_warnings():
        # XHTML (e.g. SEC inline-XBRL filings) starts with <?xml ...>; it is still HTML to us.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(data, features)


def _is_hidden(tag: Tag) -> bool:
    attrs = tag.attrs or {}
    return "hidden" in attrs or bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))


def element_text(tag: Tag) -> str:
    """Text of an element: HTML whitespace collapsed, block children and ``<br>`` as newlines."""
    from bs4 import NavigableString, Tag

    parts: list[str] = []

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                if child.name in DROP_TAGS or _is_hidden(child):
                    continue
                if child.name == "br":
                    parts.append("\n")
                    continue
                is_block = child.name in BLOCK_TAGS
                if is_block:
                    parts.append("\n")
                walk(child)
                if is_block:
                    parts.append("\n")
                elif child.name in ("td", "th"):
                    parts.append(" ")
            elif type(child) is NavigableString:  # not Comment, CData, Doctype...
                parts.append(_SPACE.sub(" ", str(child).replace("\n", " ")))

    walk(tag)
    text = "".join(parts)
    return "\n".join(line.strip() for line in text.split("\n"))


def _rows(table: Tag) -> list[list[Tag]]:
    """Rows of ``table`` itself (not of nested tables) as lists of cells."""
    rows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is table:
            rows.append(tr.find_all(["td", "th"], recursive=False))
    return [r for r in rows if r]


_SHORT_CELL_CHARS = 300
_STRUCTURE_TAGS = ["table", "p", "div", "ul", "ol", "pre", "blockquote", "section", *HEADINGS]


def _is_simple_row(cells: list[Tag]) -> bool:
    """A row of short cells holding only inline text (no headings, paragraphs, lists, tables)."""
    return all(
        cell.find(_STRUCTURE_TAGS) is None and len(cell.get_text()) <= _SHORT_CELL_CHARS for cell in cells
    )


def _is_data_table(table: Tag, rows: list[list[Tag]]) -> bool:
    if table.find("table") is not None or len(rows) < 2:
        return False
    filled_columns = max(sum(1 for c in r if c.get_text(strip=True)) for r in rows)
    return filled_columns >= 2


def _expand(cells: list[Tag]) -> list[str]:
    """Cell texts with ``colspan`` repeated as empty cells so columns line up."""
    out: list[str] = []
    for cell in cells:
        out.append(element_text(cell))
        try:
            span = int(str(cell.get("colspan", "1")))
        except ValueError:
            span = 1
        out.extend([""] * (min(max(span, 1), 100) - 1))
    return out


def _table(table: Tag, rows: list[list[Tag]], state: Outline) -> Iterator[Block]:
    texts = [_expand(r) for r in rows]
    # Header: the first row made of <th>; else the first row with two or more texts unless it
    # holds a number (a table without header, e.g. a table of contents: columns by position).
    header_index = next((i for i, r in enumerate(rows) if all(c.name == "th" for c in r)), None)
    if header_index is None:
        wide = next((i for i, t in enumerate(texts) if sum(1 for x in t if x.strip()) >= 2), 0)
        if any(is_numeric(x) for x in texts[wide] if x.strip()):
            texts.insert(wide, [])
        header_index = wide
    state.tables += 1
    caption = table.find("caption")
    if caption is not None and caption.find_parent("table") is table:
        block = make_block(element_text(caption), "paragraph", heading_path=state.path)
        if block is not None:
            yield block
    for before in texts[:header_index]:  # title rows above a <th> header
        block = make_block(" ".join(" ".join(before).split()), "paragraph", heading_path=state.path)
        if block is not None:
            yield block
    yield from table_blocks(
        texts[header_index],
        texts[header_index + 1 :],
        table_id=f"table-{state.tables}",
        heading_path=state.path,
    )


def _ends_with_break(inline: list[str]) -> bool:
    for piece in reversed(inline):
        if piece.strip(" "):
            return piece.endswith("\n")
    return False


def _flush(inline: list[str], state: Outline) -> Iterator[Block]:
    """The running inline text as one paragraph (its ``<br>`` kept as line breaks)."""
    if inline:
        lines = (" ".join(line.split()) for line in "".join(inline).split("\n"))
        inline.clear()
        block = make_block("\n".join(lines), "paragraph", heading_path=state.path)
        if block is not None:
            yield block


def _walk(node: Tag, state: Outline, inline: list[str]) -> Iterator[Block]:
    """Blocks under ``node``. Inline elements are transparent: their text joins ``inline``,
    the running paragraph, which is flushed at the next block-level element or ``<br><br>``."""
    from bs4 import NavigableString, Tag

    for child in node.children:
        if isinstance(child, Tag):
            name = child.name
            if name in DROP_TAGS or _is_hidden(child):
                continue
            if name == "br":
                if _ends_with_break(inline):
                    yield from _flush(inline, state)
                else:
                    inline.append("\n")
                continue
            if name not in BLOCK_TAGS:
                yield from _walk(child, state, inline)
                continue
            yield from _flush(inline, state)
            if name in HEADINGS:
                level = HEADINGS[name]
                text = " ".join(element_text(child).split())
                state.enter(level, text)
                if text:
                    block = make_block(text, "heading", heading_path=state.path)
                    if block is not None:
                        yield block
            elif name == "table":
                rows = _rows(child)
                if rows and _is_data_table(child, rows):
                    yield from _table(child, rows, state)
                elif rows and all(_is_simple_row(r) for r in rows):
                    # Layout table of short cells ("Grade:" | "SNB22-3"): one line per row.
                    for row in rows:
                        text = " ".join(t for t in (element_text(c) for c in row) if t.strip())
                        block = make_block(text, "paragraph", heading_path=state.path)
                        if block is not None:
                            yield block
                else:
                    yield from _walk(child, state, inline)
            elif name == "pre":
                block = make_block(child.get_text(), "code", heading_path=state.path)
                if block is not None:
                    yield block
            elif name == "li":
                yield from _list_item(child, state)
            elif name in _TEXT_BLOCKS:
                block = make_block(element_text(child), "paragraph", heading_path=state.path)
                if block is not None:
                    yield block
            else:
                yield from _walk(child, state, inline)
            yield from _flush(inline, state)
        elif type(child) is NavigableString:
            inline.append(_SPACE.sub(" ", str(child).replace("\n", " ")))


def _list_item(li: Tag, state: Outline) -> Iterator[Block]:
    """The item's own text as a ``list_item``; nested lists follow as their own items."""
    from bs4 import Tag

    nested = [c for c in li.children if isinstance(c, Tag) and c.name in ("ul", "ol")]
    for n in nested:
        n.extract()
    block = make_block(element_text(li), "list_item", heading_path=state.path)
    if block is not None:
        yield block
    for n in nested:
        inline: list[str] = []
        yield from _walk(n, state, inline)
        yield from _flush(inline, state)


def load_html(path: Path) -> Iterator[Block]:
    """Blocks of an HTML file in document order."""
    data = path.read_bytes()
    if looks_binary(data[:SNIFF_BYTES]):
        raise binary_error(path)
    soup = _soup(data)
    state = Outline()
    inline: list[str] = []
    yield from _walk(soup.body or soup, state, inline)
    yield from _flush(inline, state)
