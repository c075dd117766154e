from __future__ import annotations

from pathlib import Path

from ingest.loaders import load_blocks
from ingest.types import Block

PAGE = """<!DOCTYPE html>
<html><head><title>ignored</title><style>p { color: red }</style></head>
<body>
<nav><a href="/">Home</a> | <a href="/docs">Docs</a></nav>
<script>var tracking = "do not index";</script>
<h1>就業規則</h1>
<p>第1条 この規則は<b>全社員</b>に適用する。</p>
<div hidden>secret draft</div>
<div style="display: none">also hidden</div>
<h2>Working hours</h2>
<div>Core time is 10:00–15:00.<br>Flex outside it.<br><br>Overtime needs approval.</div>
<ul><li>Item one<ul><li>Nested item</li></ul></li><li>Item two</li></ul>
<pre>  indented
code</pre>
<h3>Allowances</h3>
<table>
  <tr><th>Type</th><th>Amount</th></tr>
  <tr><td>Commute</td><td>15,000</td></tr>
  <tr><td>Housing</td><td>30,000</td></tr>
</table>
<h2>Contacts</h2>
<table><tr><td>☐</td><td>Layout table text</td></tr></table>
<!-- a comment that must not appear -->
</body></html>
"""


def load(tmp_path: Path, html: str, name: str = "page.html") -> list[Block]:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return list(load_blocks(path))


def test_structure_and_heading_paths(tmp_path: Path) -> None:
    blocks = load(tmp_path, PAGE)
    got = [(b.kind, b.text, b.heading_path) for b in blocks]
    h1 = ("就業規則",)
    h2 = ("就業規則", "Working hours")
    h3 = ("就業規則", "Working hours", "Allowances")
    assert got == [
        ("heading", "就業規則", h1),
        ("paragraph", "第1条 この規則は全社員に適用する。", h1),
        ("heading", "Working hours", h2),
        ("paragraph", "Core time is 10:00–15:00.\nFlex outside it.", h2),
        ("paragraph", "Overtime needs approval.", h2),
        ("list_item", "Item one", h2),
        ("list_item", "Nested item", h2),
        ("list_item", "Item two", h2),
        ("code", "  indented\ncode", h2),
        ("heading", "Allowances", h3),
        ("table_header", "Type | Amount", h3),
        ("table_row", "Type: Commute | Amount: 15,000", h3),
        ("table_row", "Type: Housing | Amount: 30,000", h3),
        ("heading", "Contacts", ("就業規則", "Contacts")),
        ("paragraph", "☐ Layout table text", ("就業規則", "Contacts")),
    ]
    table_ids = {b.table_id for b in blocks if b.kind.startswith("table")}
    assert len(table_ids) == 1 and None not in table_ids


def test_dropped_content_never_appears(tmp_path: Path) -> None:
    text = "\n".join(b.text for b in load(tmp_path, PAGE))
    for hidden in ("tracking", "Home", "Docs", "secret draft", "also hidden", "comment", "ignored", "color"):
        assert hidden not in text


def test_table_without_header_row_uses_column_positions(tmp_path: Path) -> None:
    html = "<table><tr><td>Item 1.</td><td>Business</td><td>4</td></tr><tr><td>Item 2.</td><td>Risk</td><td>9</td></tr></table>"
    blocks = load(tmp_path, html, "toc.htm")
    assert [b.text for b in blocks] == [
        "Column 1: Item 1. | Column 2: Business | Column 3: 4",
        "Column 1: Item 2. | Column 2: Risk | Column 3: 9",
    ]


def test_shift_jis_html_with_meta_charset(tmp_path: Path) -> None:
    html = '<html><head><meta charset="shift_jis"></head><body><p>社員証の再発行</p></body></html>'
    path = tmp_path / "sjis.html"
    path.write_bytes(html.encode("cp932"))
    assert [b.text for b in load_blocks(path)] == ["社員証の再発行"]


def test_mixed_formats_html(mixed_formats: Path) -> None:
    blocks = list(load_blocks(mixed_formats / "example-10k-1p.html"))
    text = "\n".join(b.text for b in blocks)
    assert "Galaxy Gaming, Inc." in text
    assert "DocumentTransitionReport" not in text  # XBRL attributes are not text
    rows = [b for b in blocks if b.kind == "table_row"]
    assert any("Trading symbol: GLXZ" in b.text for b in rows)
    essay = list(load_blocks(mixed_formats / "ideas-page.html"))
    assert len(essay) >= 3  # <br><br>-separated paragraphs are split
    assert all("new Image" not in b.text for b in essay)
