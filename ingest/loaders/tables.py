"""Tables as blocks: one ``table_header`` block, then one self-contained ``table_row`` record per row.

A row is rendered as ``"Header1: v1 | Header2: v2"`` so that a chunk holding a single row is
understandable without the header. Empty cells are left out of the record; rows with no value
and rows repeating the header are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from ingest.loaders.base import make_block, squash_spaces
from ingest.types import Block

CELL_SEPARATOR = " | "
# A cell that is a number / amount / percentage, e.g. "12,553", "-0.5%", "(81)", "¥1,200".
_NUMERIC = re.compile(r"^[-+(]?[$€£¥]?\s*[\d][\d,.\s]*%?\)?$")


def default_column_name(index: int) -> str:
    """Name of an unnamed column, ``index`` 0-based."""
    return f"Column {index + 1}"


def is_numeric(cell: str) -> bool:
    return bool(_NUMERIC.match(cell.strip()))


def resolve_header(
    cells: Sequence[str], column_name: Callable[[int], str] = default_column_name
) -> list[str]:
    """Header cells with blanks replaced by a positional name."""
    return [squash_spaces(c) or column_name(i) for i, c in enumerate(cells)]


def render_record(header: Sequence[str], values: Sequence[str], column_name: Callable[[int], str]) -> str:
    """``"Header: value | ..."`` for the non-empty ``values`` (already squashed to one line)."""
    parts = []
    for i, value in enumerate(values):
        if value:
            name = header[i] if i < len(header) else column_name(i)
            parts.append(f"{name}: {value}")
    return CELL_SEPARATOR.join(parts)


def table_blocks(
    header_cells: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    table_id: str,
    page: int | None = None,
    heading_path: tuple[str, ...] = (),
    sheet: str | None = None,
    column_name: Callable[[int], str] = default_column_name,
) -> Iterator[Block]:
    """The header block then one record block per row. ``rows`` may be a lazy iterator."""
    header = resolve_header(header_cells, column_name)
    # Trailing unnamed columns of the header (spreadsheet padding) are not shown in its block.
    shown = list(header)
    while shown and not squash_spaces(header_cells[len(shown) - 1]):
        shown.pop()

    def block(text: str, kind: str) -> Block | None:
        return make_block(text, kind, page=page, heading_path=heading_path, sheet=sheet, table_id=table_id)

    head = block(CELL_SEPARATOR.join(shown), "table_header")
    if head is not None:
        yield head
    header_values = [squash_spaces(c) for c in header_cells]
    for cells in rows:
        values = [squash_spaces(c) for c in cells]
        if not any(values) or _same_cells(values, header_values):
            continue
        row = block(render_record(header, values, column_name), "table_row")
        if row is not None:
            yield row


def _same_cells(a: Sequence[str], b: Sequence[str]) -> bool:
    return [x for x in a if x] == [x for x in b if x]
