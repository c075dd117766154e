"""Markdown via markdown-it-py (CommonMark + tables + strikethrough), streamed.

The file is decoded incrementally and cut into segments of about 256 KiB at blank lines
outside fenced code and front matter; each segment is parsed on its own while the heading
stack carries over, so memory stays bounded for very large files. (A reference-style link
whose definition sits in another segment renders as its literal text; nothing is lost.)

Front matter is stripped from the text (``ingest.access`` reads it for metadata).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.access import AccessMetaError, strip_front_matter
from ingest.loaders.base import LoadError, Outline, make_block
from ingest.loaders.tables import table_blocks
from ingest.loaders.text import detect_encoding, iter_decoded, iter_lines, iter_normalized
from ingest.types import Block

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

SEGMENT_CHARS = 256 * 1024
# An unclosed fence must not swallow the rest of a huge file: cut anyway past this size.
MAX_SEGMENT_CHARS = 8 * SEGMENT_CHARS
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def iter_segments(lines: Iterable[str], target_chars: int = SEGMENT_CHARS) -> Iterator[str]:
    """Markdown source in pieces that can be parsed independently (see module docstring)."""
    buf: list[str] = []
    size = 0
    fence: str | None = None
    in_front_matter = False
    for n, line in enumerate(lines):
        buf.append(line)
        size += len(line)
        stripped = line.strip()
        if n == 0 and stripped.lstrip("\ufeff") == "---":
            in_front_matter = True
            continue
        if in_front_matter:
            if stripped in ("---", "...") or size > MAX_SEGMENT_CHARS:
                in_front_matter = False
            continue
        m = _FENCE.match(line)
        if m is not None:
            marker = m.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence) and stripped == marker:
                fence = None
        can_cut = (fence is None and not stripped and size >= target_chars) or size >= MAX_SEGMENT_CHARS
        if can_cut:
            yield "".join(buf)
            buf, size = [], 0
            if fence is not None:
                fence = None  # forced cut inside an unclosed fence: the rest parses as text
    if buf:
        yield "".join(buf)


def render_inline(token: Token | None) -> str:
    """Plain text of an inline token: markup dropped, link text and image alt text kept."""
    if token is None or token.children is None:
        return token.content if token is not None else ""
    out: list[str] = []
    for child in token.children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":
            out.append(render_inline(child) or child.content)
    return "".join(out)


def _html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    from ingest.loaders.html import element_text

    return element_text(BeautifulSoup(html, "html.parser"))


def _table(tokens: Sequence[Token], start: int) -> tuple[list[str], list[list[str]], int]:
    """Header cells, body rows and the index after ``table_close``."""
    header: list[str] = []
    rows: list[list[str]] = []
    row: list[str] | None = None
    in_head = False
    i = start
    while i < len(tokens):
        t = tokens[i]
        if t.type == "table_close":
            return header, rows, i + 1
        if t.type == "thead_open":
            in_head = True
        elif t.type == "thead_close":
            in_head = False
        elif t.type == "tr_open":
            row = []
        elif t.type == "tr_close" and row is not None:
            if in_head and not header:
                header = row
            else:
                rows.append(row)
            row = None
        elif t.type == "inline" and row is not None:
            row.append(render_inline(t))
        i += 1
    return header, rows, i


def blocks_from_tokens(tokens: Sequence[Token], state: Outline) -> Iterator[Block]:
    list_kinds: list[bool] = []  # one per open list: ordered?
    marker: str | None = None  # prefix for the first paragraph of the current list item
    i = 0
    while i < len(tokens):
        t = tokens[i]
        kind = t.type
        if kind == "heading_open":
            level = int(t.tag[1:])
            text = " ".join(render_inline(tokens[i + 1]).split())
            state.enter(level, text)
            if text:
                block = make_block(text, "heading", heading_path=state.path)
                if block is not None:
                    yield block
            i += 3
            continue
        if kind == "paragraph_open":
            text = render_inline(tokens[i + 1])
            if list_kinds:
                block = make_block((marker or "") + text, "list_item", heading_path=state.path)
                marker = None
            else:
                block = make_block(text, "paragraph", heading_path=state.path)
            if block is not None:
                yield block
            i += 3
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_kinds.append(kind == "ordered_list_open")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_kinds.pop()
        elif kind == "list_item_open":
            marker = f"{t.info}. " if list_kinds and list_kinds[-1] else "- "
        elif kind in ("fence", "code_block"):
            block = make_block(t.content, "code", heading_path=state.path)
            if block is not None:
                yield block
        elif kind == "html_block":
            block = make_block(_html_text(t.content), "paragraph", heading_path=state.path)
            if block is not None:
                yield block
        elif kind == "table_open":
            header, rows, i = _table(tokens, i)
            state.tables += 1
            yield from table_blocks(header, rows, table_id=f"table-{state.tables}", heading_path=state.path)
            continue
        i += 1


def load_markdown(path: Path) -> Iterator[Block]:
    """Blocks of a Markdown file in reading order (headings, paragraphs, list items, code, tables)."""
    encoding = detect_encoding(path)
    lines = iter_lines(iter_normalized(iter_decoded(path, encoding)))
    parser = _parser()
    state = Outline()
    for n, segment in enumerate(iter_segments(lines, SEGMENT_CHARS)):
        if n == 0:
            try:
                _, segment, _ = strip_front_matter(segment)
            except AccessMetaError as e:
                raise LoadError(path, f"{e.problem}: fix the YAML between the leading '---' lines") from e
        yield from blocks_from_tokens(parser.parse(segment), state)
