"""Real third-party documents from ../shared/datasets/mixed_formats."""

from __future__ import annotations

import time
from pathlib import Path

from ingest.loaders import load_blocks


def test_872_page_docx_loads_in_reasonable_time(mixed_formats: Path) -> None:
    start = time.perf_counter()
    blocks = list(load_blocks(mixed_formats / "handbook-872p.docx"))
    elapsed = time.perf_counter() - start
    assert elapsed < 60, f"{elapsed:.1f} s"  # ~3 s when the machine is idle
    assert len(blocks) > 4000
    headings = [b for b in blocks if b.kind == "heading"]
    assert len(headings) > 100
    assert sum(len(b.text) for b in blocks) > 500_000  # ~800k chars of text
    # Body text under a heading carries that heading in its path.
    first = headings[0]
    after = blocks[blocks.index(first) + 1]
    assert after.heading_path[: len(first.heading_path)] == first.heading_path


def test_docx_heading_levels(mixed_formats: Path) -> None:
    blocks = list(load_blocks(mixed_formats / "category-level.docx"))
    paths = [b.heading_path for b in blocks if b.kind == "heading"]
    assert paths == [("A Heading 1",), ("A Heading 1", "A Heading 2"), ("Another Heading 1",)]
    assert sum(1 for b in blocks if b.kind == "list_item") == 4


def test_docx_tables_as_records(mixed_formats: Path) -> None:
    blocks = list(load_blocks(mixed_formats / "docx-tables.docx"))
    rows = [b.text for b in blocks if b.kind == "table_row"]
    assert "Header Col 1: Lorem ipsum | Header Col 2: A link example" in rows
    assert any("e f g&t h" in r for r in rows)  # text of a nested table is kept


def test_pptx_slides(mixed_formats: Path) -> None:
    blocks = list(load_blocks(mixed_formats / "sample-presentation.pptx"))
    assert {b.page for b in blocks} == {1, 2, 3, 4}
    for b in blocks:
        if b.kind == "heading":
            assert b.heading_path == (b.text,)
    table = [b.text for b in blocks if b.table_id]
    assert table == [
        "Table | A | B | C",
        "Table: 1 | A: A1 | B: B1 | C: C1",
        "Table: 2 | A: A2 | B: B2 | C: C2",
    ]
