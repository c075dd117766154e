"""Build the generated files of ragqa's sample corpus ``docs_corpus/`` from ``scripts/corpus_src/``.

Every ``scripts/corpus_src/**/*.yaml`` file describes one output document (path relative to
``docs_corpus/``) and its text. Formats built here:

- ``pdf``  (reportlab; Japanese via the built-in CID font HeiseiKakuGo-W5, one list of blocks per page)
- ``docx`` (python-docx; real "Heading N" styles and tables)
- ``pptx`` (python-pptx; a title and body per slide, optional table)
- ``xlsx`` (openpyxl; one header row per sheet)
- ``text`` (plain text re-encoded to a legacy encoding: cp932, euc_jp, or UTF-8 with BOM)

A spec's optional ``meta`` mapping (title, date, groups) is written next to the document as
``<filename>.meta.json``, the corpus' access/metadata sidecar convention.

Output is byte-for-byte reproducible: reportlab runs in invariant mode, and the OOXML zips are
rewritten with fixed member timestamps and fixed docProps/core.xml dates.

Usage: ``python scripts/build_docs_corpus.py [--src DIR] [--out DIR]``
Needs: ``pip install reportlab python-docx python-pptx openpyxl PyYAML``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SRC = REPO / "scripts" / "corpus_src"
DEFAULT_OUT = REPO / "docs_corpus"

# Fixed timestamp for every generated file's internal metadata (reproducible builds).
FIXED_DATETIME = dt.datetime(2026, 4, 1, 9, 0, 0)
FIXED_ZIP_TIME = (2026, 4, 1, 9, 0, 0)
JA_FONT = "HeiseiKakuGo-W5"
TEXT_ENCODINGS = {"cp932": "cp932", "euc_jp": "euc_jp", "utf-8-sig": "utf-8-sig", "utf-8": "utf-8"}

Spec = dict[str, Any]
Block = dict[str, Any]


def load_specs(src: Path) -> list[tuple[Path, Spec]]:
    """Every ``*.yaml`` spec under ``src``, sorted by path."""
    specs = []
    for path in sorted(src.rglob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            spec = yaml.safe_load(fh)
        for key in ("output", "format"):
            if key not in spec:
                raise ValueError(f"{path}: missing key {key!r}; every spec needs 'output' and 'format'")
        specs.append((path, spec))
    return specs


def check_table(rows: list[list[Any]], where: str) -> None:
    """Every row as wide as the header (a stray comma in a YAML flow list adds a cell)."""
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(f"{where}: table rows have widths {sorted(widths)}; quote cells containing commas")


def block_items(block: Block) -> tuple[str, Any]:
    """A block is a one-key mapping such as ``{h1: text}``, ``{p: text}``, ``{ul: [..]}``, ``{table: [[..]]}``."""
    if len(block) != 1:
        raise ValueError(f"block {block!r} must have exactly one key (h1/h2/h3/p/ul/ol/table)")
    ((kind, value),) = block.items()
    if kind not in {"h1", "h2", "h3", "p", "ul", "ol", "table"}:
        raise ValueError(f"block kind {kind!r} is not one of h1, h2, h3, p, ul, ol, table")
    if kind == "table":
        check_table(value, f"table starting {value[0]!r}")
    return kind, value


# --------------------------------------------------------------------------------------------- PDF


def build_pdf(spec: Spec, out: Path) -> None:
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table

    rl_config.invariant = 1
    ja = spec.get("lang") == "ja"
    if ja:
        pdfmetrics.registerFont(UnicodeCIDFont(JA_FONT))
    body_font = JA_FONT if ja else "Helvetica"
    bold_font = JA_FONT if ja else "Helvetica-Bold"
    wrap = "CJK" if ja else None
    base = {"fontName": body_font, "fontSize": 10, "leading": 15, "wordWrap": wrap}
    styles = {
        "h1": ParagraphStyle(
            "h1", **{**base, "fontName": bold_font, "fontSize": 16, "leading": 22, "spaceAfter": 8}
        ),
        "h2": ParagraphStyle(
            "h2",
            **{
                **base,
                "fontName": bold_font,
                "fontSize": 12.5,
                "leading": 18,
                "spaceBefore": 6,
                "spaceAfter": 4,
            },
        ),
        "h3": ParagraphStyle(
            "h3",
            **{
                **base,
                "fontName": bold_font,
                "fontSize": 11,
                "leading": 16,
                "spaceBefore": 4,
                "spaceAfter": 2,
            },
        ),
        "p": ParagraphStyle("p", **{**base, "spaceAfter": 5}),
        "li": ParagraphStyle("li", **{**base, "leftIndent": 12, "firstLineIndent": -8, "spaceAfter": 2}),
        "cell": ParagraphStyle("cell", **{**base, "fontSize": 9, "leading": 12.5}),
        "foot": ParagraphStyle("foot", **{**base, "fontSize": 8, "alignment": TA_CENTER}),
    }
    footer = spec.get("footer", "")
    n_pages = len(spec["pages"])

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(escape(str(text)), styles[style])

    story: list[Any] = []
    for i, page in enumerate(spec["pages"]):
        if i:
            story.append(PageBreak())
        for block in page:
            kind, value = block_items(block)
            if kind in {"h1", "h2", "h3", "p"}:
                story.append(para(value, kind))
            elif kind in {"ul", "ol"}:
                for n, item in enumerate(value, start=1):
                    mark = f"{n}. " if kind == "ol" else ("・" if ja else "- ")
                    story.append(para(mark + str(item), "li"))
            else:
                rows = [[para(c, "cell") for c in row] for row in value]
                table = Table(
                    rows, repeatRows=1, hAlign="LEFT", colWidths=[170 * mm / len(value[0])] * len(value[0])
                )
                table.setStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.93)),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
                story.append(Spacer(1, 3))
                story.append(table)
                story.append(Spacer(1, 6))

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(body_font, 8)
        canvas.drawCentredString(A4[0] / 2, 12 * mm, f"{footer}  {doc.page} / {n_pages}".strip())
        canvas.restoreState()

    buf = io.BytesIO()
    meta = spec.get("meta", {})
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=22 * mm,
        title=meta.get("title", ""),
        author="Kitsune Cloud K.K.",
        creator="ragqa scripts/build_docs_corpus.py",
        subject="",
        invariant=1,
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    data = buf.getvalue()
    actual = _pdf_page_count(data)
    if actual != n_pages:
        raise ValueError(
            f"{spec['output']}: spec has {n_pages} pages but the PDF has {actual}; shorten the overflowing page"
        )
    out.write_bytes(data)


def _pdf_page_count(data: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


# -------------------------------------------------------------------------------------------- DOCX


def build_docx(spec: Spec, out: Path) -> None:
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = docx.Document()
    if spec.get("lang") == "ja":
        # East-Asian font for Japanese runs in the body and heading styles.
        for style_name in ("Normal", "Heading 1", "Heading 2", "Heading 3", "Title"):
            rpr = document.styles[style_name].element.get_or_add_rPr()
            rfonts = rpr.find(qn("w:rFonts"))
            if rfonts is None:
                rfonts = rpr.makeelement(qn("w:rFonts"), {})
                rpr.append(rfonts)
            rfonts.set(qn("w:eastAsia"), "Yu Gothic")
    document.styles["Normal"].font.size = Pt(10.5)
    for block in spec["blocks"]:
        kind, value = block_items(block)
        if kind in {"h1", "h2", "h3"}:
            document.add_heading(str(value), level=int(kind[1]))
        elif kind == "p":
            document.add_paragraph(str(value))
        elif kind in {"ul", "ol"}:
            style = "List Bullet" if kind == "ul" else "List Number"
            for item in value:
                document.add_paragraph(str(item), style=style)
        else:
            table = document.add_table(rows=len(value), cols=len(value[0]))
            table.style = "Table Grid"
            for r, row in enumerate(value):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = str(cell)
                    if r == 0:
                        for run in table.cell(r, c).paragraphs[0].runs:
                            run.bold = True
    props = document.core_properties
    meta = spec.get("meta", {})
    props.title = meta.get("title", "")
    props.author = "Kitsune Cloud K.K."
    props.last_modified_by = "Kitsune Cloud K.K."
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.revision = 1
    props.language = spec.get("lang", "")
    buf = io.BytesIO()
    document.save(buf)
    out.write_bytes(normalize_ooxml(buf.getvalue()))


# -------------------------------------------------------------------------------------------- PPTX


def build_pptx(spec: Spec, out: Path) -> None:
    from pptx import Presentation
    from pptx.util import Emu, Pt

    prs = Presentation()  # default 4:3 template, 9144000 x 6858000 EMU
    title_layout, content_layout, title_only = (
        prs.slide_layouts[0],
        prs.slide_layouts[1],
        prs.slide_layouts[5],
    )
    for i, slide_spec in enumerate(spec["slides"]):
        if i == 0 and "subtitle" in slide_spec:
            slide = prs.slides.add_slide(title_layout)
            slide.shapes.title.text = slide_spec["title"]
            slide.placeholders[1].text = slide_spec["subtitle"]
            continue
        if "table" in slide_spec:
            slide = prs.slides.add_slide(title_only)
            slide.shapes.title.text = slide_spec["title"]
            rows = slide_spec["table"]
            top = Emu(1500000)
            if slide_spec.get("bullets"):
                box = slide.shapes.add_textbox(Emu(500000), Emu(1250000), Emu(8100000), Emu(600000))
                box.text_frame.text = "\n".join(slide_spec["bullets"])
                for p in box.text_frame.paragraphs:
                    p.font.size = Pt(16)
                top = Emu(1250000 + 450000 * len(slide_spec["bullets"]) + 150000)
            check_table(rows, f"slide {slide_spec['title']!r}")
            shape = slide.shapes.add_table(
                len(rows), len(rows[0]), Emu(500000), top, Emu(8100000), Emu(370000 * len(rows))
            )
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    tf = shape.table.cell(r, c).text_frame
                    tf.text = str(cell)
                    tf.paragraphs[0].font.size = Pt(14)
        else:
            slide = prs.slides.add_slide(content_layout)
            slide.shapes.title.text = slide_spec["title"]
            body = slide.placeholders[1].text_frame
            bullets = slide_spec.get("bullets", [])
            body.text = bullets[0] if bullets else ""
            for bullet in bullets[1:]:
                body.add_paragraph().text = bullet
            for p in body.paragraphs:
                p.font.size = Pt(20 if len(bullets) <= 5 else 16)
        if "notes" in slide_spec:
            slide.notes_slide.notes_text_frame.text = slide_spec["notes"]
    props = prs.core_properties
    meta = spec.get("meta", {})
    props.title = meta.get("title", "")
    props.author = "Kitsune Cloud K.K."
    props.last_modified_by = "Kitsune Cloud K.K."
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.revision = 1
    props.language = spec.get("lang", "")
    buf = io.BytesIO()
    prs.save(buf)
    out.write_bytes(normalize_ooxml(buf.getvalue()))


# -------------------------------------------------------------------------------------------- XLSX


def build_xlsx(spec: Spec, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for sheet_spec in spec["sheets"]:
        check_table(sheet_spec["rows"], f"sheet {sheet_spec['name']!r}")
        ws = wb.create_sheet(sheet_spec["name"])
        for row in sheet_spec["rows"]:
            ws.append(row)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for c in range(1, len(sheet_spec["rows"][0]) + 1):
            width = max(
                len(str(r[c - 1])) if c - 1 < len(r) and r[c - 1] is not None else 0
                for r in sheet_spec["rows"]
            )
            ws.column_dimensions[get_column_letter(c)].width = min(60, max(10, width + 4))
        for fmt_col in sheet_spec.get("number_format_cols", []):
            for cell in ws[fmt_col][1:]:
                cell.number_format = "#,##0"
    meta = spec.get("meta", {})
    wb.properties.title = meta.get("title", "")
    wb.properties.creator = "Kitsune Cloud K.K."
    wb.properties.lastModifiedBy = "Kitsune Cloud K.K."
    wb.properties.created = FIXED_DATETIME
    buf = io.BytesIO()
    wb.save(buf)
    out.write_bytes(normalize_ooxml(buf.getvalue()))


# -------------------------------------------------------------------------------------------- text


def build_text(spec: Spec, out: Path) -> None:
    encoding = spec.get("encoding", "utf-8")
    if encoding not in TEXT_ENCODINGS:
        raise ValueError(f"{spec['output']}: encoding {encoding!r} is not one of {sorted(TEXT_ENCODINGS)}")
    text = spec["text"].replace("\r\n", "\n")
    if spec.get("newline") == "crlf":
        text = text.replace("\n", "\r\n")
    # strict: a character outside the legacy code page is a bug in the source, not something to drop.
    out.write_bytes(text.encode(TEXT_ENCODINGS[encoding], errors="strict"))


# ---------------------------------------------------------------------------------------- helpers

_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def normalize_ooxml(data: bytes) -> bytes:
    """Rewrite an OOXML zip with fixed member timestamps and fixed core.xml dates (same order, deflated)."""
    stamp = FIXED_DATETIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = _CORE_DATES.sub(lambda m: m.group(1) + stamp + m.group(3), payload)
            member = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            dst.writestr(member, payload)
    return buf.getvalue()


def write_sidecar(spec: Spec, out: Path) -> Path | None:
    meta = spec.get("meta")
    if not meta:
        return None
    allowed = {"title", "date", "groups"}
    unknown = set(meta) - allowed
    if unknown:
        raise ValueError(f"{spec['output']}: meta keys {sorted(unknown)} not allowed; use {sorted(allowed)}")
    ordered = {
        k: (str(meta[k]) if k == "date" else meta[k]) for k in ("groups", "title", "date") if k in meta
    }
    side = out.with_name(out.name + ".meta.json")
    side.write_text(json.dumps(ordered, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return side


BUILDERS = {"pdf": build_pdf, "docx": build_docx, "pptx": build_pptx, "xlsx": build_xlsx, "text": build_text}


def build_all(src: Path, out_root: Path) -> Iterator[Path]:
    for spec_path, spec in load_specs(src):
        fmt = spec["format"]
        if fmt not in BUILDERS:
            raise ValueError(f"{spec_path}: format {fmt!r} is not one of {sorted(BUILDERS)}")
        out = out_root / spec["output"]
        if not spec["output"].isascii():
            raise ValueError(f"{spec_path}: output name {spec['output']!r} must be ASCII")
        out.parent.mkdir(parents=True, exist_ok=True)
        BUILDERS[fmt](spec, out)
        yield out
        side = write_sidecar(spec, out)
        if side is not None:
            yield side


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of *.yaml specs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus root to write into")
    args = parser.parse_args(argv)
    for path in build_all(args.src, args.out):
        try:
            shown = path.relative_to(REPO)
        except ValueError:
            shown = path
        print(f"wrote {shown} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
