from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest

import ingest.loaders.markdown as markdown_loader
from ingest.loaders import LoadError, load_blocks
from ingest.loaders.markdown import iter_segments
from ingest.types import BLOCK_SEPARATOR, Block

DOC = """\
---
title: 経費精算ガイド
groups: [finance, hr]
date: 2024-04-01
---
# Expense guide

Intro with **bold**, `code`, a [link](https://example.com) and ![a chart](c.png).

## Submitting

1. Fill in the form
2. Attach receipts

- nested parent
  - nested child

```python
def total(items):

    return sum(items)
```

### Limits

| Item | Limit (JPY) |
|------|-------------|
| Taxi | 5,000 |
| Meal | 3,000 |

## 締め切り

毎月末日までに提出してください。
"""


def load(tmp_path: Path, text: str, name: str = "doc.md") -> list[Block]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return list(load_blocks(path))


def test_structure_headings_lists_code_tables(tmp_path: Path) -> None:
    blocks = load(tmp_path, DOC)
    got = [(b.kind, b.text, b.heading_path) for b in blocks]
    assert got[0] == ("heading", "Expense guide", ("Expense guide",))
    assert got[1] == (
        "paragraph",
        "Intro with bold, code, a link and a chart.",
        ("Expense guide",),
    )
    assert got[2] == ("heading", "Submitting", ("Expense guide", "Submitting"))
    assert ("list_item", "1. Fill in the form", ("Expense guide", "Submitting")) in got
    assert ("list_item", "2. Attach receipts", ("Expense guide", "Submitting")) in got
    assert ("list_item", "- nested child", ("Expense guide", "Submitting")) in got
    code = next(b for b in blocks if b.kind == "code")
    assert code.text == "def total(items):\n    return sum(items)"  # blank line folded: no "\n\n"
    limits = ("Expense guide", "Submitting", "Limits")
    table = [b for b in blocks if b.table_id]
    assert [(b.kind, b.text, b.heading_path) for b in table] == [
        ("table_header", "Item | Limit (JPY)", limits),
        ("table_row", "Item: Taxi | Limit (JPY): 5,000", limits),
        ("table_row", "Item: Meal | Limit (JPY): 3,000", limits),
    ]
    assert len({b.table_id for b in table}) == 1
    # A sibling h2 replaces the h2 and drops the h3 below it.
    assert got[-2] == ("heading", "締め切り", ("Expense guide", "締め切り"))
    assert got[-1] == ("paragraph", "毎月末日までに提出してください。", ("Expense guide", "締め切り"))


def test_front_matter_is_not_text(tmp_path: Path) -> None:
    text = "\n".join(b.text for b in load(tmp_path, DOC))
    assert "groups" not in text and "経費精算ガイド" not in text


def test_thematic_break_at_top_is_not_front_matter(tmp_path: Path) -> None:
    blocks = load(tmp_path, "---\nJust a paragraph after a rule.\n\n---\n\nMore.\n")
    assert [b.text for b in blocks] == ["Just a paragraph after a rule.", "More."]


def test_invalid_front_matter_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="invalid YAML front matter"):
        load(tmp_path, "---\ngroups: [hr\ntitle: x\n---\n# Body\n")


def test_blank_lines_inside_blocks_are_folded(tmp_path: Path) -> None:
    blocks = load(tmp_path, "Para one\nline two\n\n\n\n> quote\n\n    indented\n\n\n    code\n")
    assert [(b.kind, b.text) for b in blocks] == [
        ("paragraph", "Para one\nline two"),
        ("paragraph", "quote"),
        ("code", "indented\ncode"),
    ]
    assert all(BLOCK_SEPARATOR not in b.text for b in blocks)


def test_segments_do_not_cut_fenced_code() -> None:
    lines = ["# H\n", "\n"] + ["```\n"] + ["x = 1\n", "\n"] * 50 + ["```\n", "\n", "after\n"]
    segments = list(iter_segments(lines, target_chars=10))
    assert "".join(segments) == "".join(lines)
    fenced = [s for s in segments if "x = 1" in s]
    assert len(fenced) == 1 and fenced[0].count("```") == 2


def test_heading_path_carries_across_segments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markdown_loader, "SEGMENT_CHARS", 200)
    body = "\n\n".join(f"paragraph {i} " + "x" * 50 for i in range(30))
    blocks = load(tmp_path, f"# Top\n\n## Sub\n\n{body}\n\n## Next\n\ntail\n")
    paragraphs = [b for b in blocks if b.text.startswith("paragraph")]
    assert len(paragraphs) == 30
    assert {b.heading_path for b in paragraphs} == {("Top", "Sub")}
    assert blocks[-1].heading_path == ("Top", "Next")


def test_html_blocks_become_text(tmp_path: Path) -> None:
    blocks = load(
        tmp_path, '<div class="note">\n<p>Visible <b>note</b></p>\n<script>evil()</script>\n</div>\n'
    )
    assert [b.text for b in blocks] == ["Visible note"]


def test_large_markdown_streams_in_bounded_memory(tmp_path: Path) -> None:
    rng = random.Random(0)
    para = " ".join(rng.choice(["alpha", "beta", "規程", "申請"]) for _ in range(1500))
    path = tmp_path / "big.md"
    with path.open("w", encoding="utf-8") as f:
        i = 0
        while f.tell() < 24 * 1024 * 1024:
            f.write(f"## Part {i}\n\n{para}\n\n")
            i += 1
    tracemalloc.start()
    try:
        n = 0
        last = None
        for block in load_blocks(path):
            n += 1
            last = block
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 2 * i
    assert last is not None and last.heading_path == (f"Part {i - 1}",)
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 24 MiB file"


def test_fastapi_docs_japanese_page(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "fastapi_docs_en_ja"
    if not root.is_dir():
        pytest.skip(f"dataset folder {root} is absent (see ../shared/datasets/README.md)")
    pages = sorted((root / "ja").rglob("*.md"))
    assert pages
    for page in pages[:20]:
        blocks = list(load_blocks(page))
        assert blocks, page
        assert any(b.kind == "heading" for b in blocks)
    joined = "".join(b.text for page in pages[:20] for b in load_blocks(page))
    assert any("\u3040" <= ch <= "\u30ff" for ch in joined)  # kana came back
