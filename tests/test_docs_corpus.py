"""Checks on the sample corpus ``docs_corpus/`` and its question set ``docs_corpus/qa.jsonl``.

The last check reads every answerable question's source with an ordinary library (pypdf page text,
python-docx, python-pptx, openpyxl, decoded text) and requires the expected answer to occur in it,
so the question set cannot drift away from the documents.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "docs_corpus"
SRC = REPO / "scripts" / "corpus_src"
QA_PATH = CORPUS / "qa.jsonl"

DOC_SUFFIXES = {".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".html", ".md", ".txt"}
QA_KEYS = {"id", "question", "answer", "answerable", "lang", "source", "page", "section", "groups"}
KNOWN_GROUPS = {"hr", "finance", "engineering", "executives"}
_JA_CHARS = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def _squash(text: str) -> str:
    """Drop all whitespace: PDF line wraps split Japanese text at arbitrary characters."""
    return re.sub(r"\s+", "", text)


@cache
def _specs() -> dict[str, dict[str, Any]]:
    """Generator specs keyed by output path relative to docs_corpus/."""
    out = {}
    for path in sorted(SRC.rglob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[spec["output"]] = spec
    return out


def _documents() -> list[Path]:
    return sorted(
        p
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix in DOC_SUFFIXES and not p.name.endswith(".meta.json")
    )


@cache
def _qa() -> list[dict[str, Any]]:
    lines = QA_PATH.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _decode_text_file(rel: str, root: Path = CORPUS) -> str:
    """Text formats: legacy encodings are declared in the generator spec; everything else is UTF-8."""
    data = (root / rel).read_bytes()
    encoding = _specs().get(rel, {}).get("encoding", "utf-8")
    return data.decode("utf-8-sig" if encoding == "utf-8" else encoding)


def _strip_front_matter(text: str) -> str:
    return _FRONT_MATTER.sub("", text, count=1)


def _doc_meta(rel: str) -> dict[str, Any]:
    """Sidecar ``<file>.meta.json``, else Markdown front matter, else {} (public, undated)."""
    side = CORPUS / (rel + ".meta.json")
    if side.exists():
        return dict(json.loads(side.read_text(encoding="utf-8")))
    if rel.endswith(".md"):
        match = _FRONT_MATTER.match((CORPUS / rel).read_text(encoding="utf-8"))
        if match:
            return dict(yaml.safe_load(match.group(1)))
    return {}


def _doc_groups(rel: str) -> set[str]:
    return set(_doc_meta(rel).get("groups", []))


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _extract(rel: str, page: int | None = None, root: Path = CORPUS) -> str:
    """Text of a document, or of one page / slide / sheet (1-based) where the format has them."""
    path = root / rel
    suffix = path.suffix
    if suffix == ".pdf":
        from pypdf import PdfReader

        pdf_pages = PdfReader(path).pages
        chosen_pages = [pdf_pages[page - 1]] if page else list(pdf_pages)
        return "\n".join(p.extract_text() for p in chosen_pages)
    if suffix == ".docx":
        import docx

        document = docx.Document(str(path))
        parts = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                parts.append("\t".join(c.text for c in row.cells))
        return "\n".join(parts)
    if suffix == ".pptx":
        from pptx import Presentation

        slides = list(Presentation(str(path)).slides)
        chosen_slides = [slides[page - 1]] if page else slides
        parts = []
        for slide in chosen_slides:
            for shape in slide.shapes:
                if shape.has_text_frame:
                    parts.append(shape.text_frame.text)
                if shape.has_table:
                    for row in shape.table.rows:
                        parts.append("\t".join(c.text for c in row.cells))
        return "\n".join(parts)
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        sheets = workbook.worksheets
        chosen_sheets = [sheets[page - 1]] if page else sheets
        rows = [
            "\t".join(_cell(v) for v in row)
            for sheet in chosen_sheets
            for row in sheet.iter_rows(values_only=True)
        ]
        workbook.close()
        return "\n".join(rows)
    text = _decode_text_file(rel, root)
    if suffix == ".html":
        from bs4 import BeautifulSoup

        return BeautifulSoup(text, "html.parser").get_text("\n")
    return text


# ------------------------------------------------------------------------------------- corpus


def test_corpus_has_enough_documents_and_formats() -> None:
    docs = _documents()
    formats = {p.suffix for p in docs}
    assert len(docs) >= 25, f"only {len(docs)} documents"
    assert len(formats) >= 6, f"only formats {sorted(formats)}"
    assert {".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".html", ".md", ".txt"} <= formats


def test_file_names_are_ascii_and_in_subfolders() -> None:
    for path in CORPUS.rglob("*"):
        rel = path.relative_to(CORPUS).as_posix()
        assert rel.isascii(), rel
    folders = {p.relative_to(CORPUS).parts[0] for p in _documents() if p.parent != CORPUS}
    assert {"hr", "it", "product", "meetings", "onboarding", "security"} <= folders


def test_languages_are_mixed() -> None:
    ja = [p for p in _documents() if len(_JA_CHARS.findall(_extract(p.relative_to(CORPUS).as_posix()))) > 100]
    assert 10 <= len(ja) <= len(_documents()) - 10, f"{len(ja)} of {len(_documents())} documents are Japanese"


def test_sidecars_and_front_matter_are_well_formed() -> None:
    restricted, dated_public, restricted_ja = [], [], []
    for path in _documents():
        rel = path.relative_to(CORPUS).as_posix()
        meta = _doc_meta(rel)
        assert set(meta) <= {"groups", "title", "date"}, (rel, meta)
        groups = meta.get("groups", [])
        assert isinstance(groups, list)
        assert set(groups) <= KNOWN_GROUPS, (rel, groups)
        if "date" in meta:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(meta["date"])), (rel, meta["date"])
        if groups:
            restricted.append(rel)
            if _JA_CHARS.search(_extract(rel)):
                restricted_ja.append(rel)
        elif "date" in meta:
            dated_public.append(rel)
    for side in CORPUS.rglob("*.meta.json"):
        assert side.with_name(side.name.removesuffix(".meta.json")).exists(), f"orphan sidecar {side}"
    assert len(restricted) >= 4, restricted
    assert any(len(_JA_CHARS.findall(_extract(r))) > 200 for r in restricted_ja), restricted_ja
    assert len(dated_public) >= 3, dated_public


def test_shift_jis_file_is_cp932_not_utf8() -> None:
    data = (CORPUS / "hr" / "work_rules_excerpt_sjis.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp932")
    assert "就業規則" in text and "コアタイム" in text


def test_euc_jp_and_bom_files() -> None:
    euc = (CORPUS / "meetings" / "2026-05-12_all_hands_eucjp.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        euc.decode("utf-8")
    assert "全社会議" in euc.decode("euc_jp")
    bom = (CORPUS / "it" / "helpdesk_faq_ja.txt").read_bytes()
    assert bom.startswith(b"\xef\xbb\xbf")
    assert "ヘルプデスク" in bom.decode("utf-8-sig")


def test_pdfs_have_intended_pages_with_distinct_text() -> None:
    from pypdf import PdfReader

    pdf_specs = {out: spec for out, spec in _specs().items() if spec["format"] == "pdf"}
    assert len(pdf_specs) >= 2
    assert any(spec.get("lang") == "ja" and len(spec["pages"]) >= 3 for spec in pdf_specs.values())
    for out, spec in pdf_specs.items():
        pages = PdfReader(CORPUS / out).pages
        assert len(pages) == len(spec["pages"]), out
        texts = [p.extract_text() for p in pages]
        assert all(len(_squash(t)) > 200 for t in texts), out
        assert len(set(texts)) == len(texts), f"{out}: pages repeat"


def test_japanese_pdf_text_extracts_exactly() -> None:
    spec = _specs()["hr/leave_policy_ja.pdf"]
    from pypdf import PdfReader

    pages = PdfReader(CORPUS / "hr" / "leave_policy_ja.pdf").pages
    for page, blocks in zip(pages, spec["pages"], strict=True):
        text = _squash(page.extract_text())
        for block in blocks:
            ((kind, value),) = block.items()
            if kind in {"h1", "h2", "p"}:
                assert _squash(value) in text, value


def test_docx_uses_heading_styles_and_tables() -> None:
    import docx

    for out, spec in _specs().items():
        if spec["format"] != "docx":
            continue
        document = docx.Document(str(CORPUS / out))
        styles = {p.style.name for p in document.paragraphs if p.style is not None}
        assert {"Heading 1", "Heading 2"} <= styles, out
        assert document.tables, out


def test_pptx_slides_have_titles_and_xlsx_header_rows() -> None:
    from openpyxl import load_workbook
    from pptx import Presentation

    for out, spec in _specs().items():
        if spec["format"] == "pptx":
            slides = list(Presentation(str(CORPUS / out)).slides)
            assert len(slides) == len(spec["slides"]) >= 5, out
            assert [s.shapes.title.text for s in slides] == [s["title"] for s in spec["slides"]]
        elif spec["format"] == "xlsx":
            workbook = load_workbook(CORPUS / out)
            assert workbook.sheetnames == [s["name"] for s in spec["sheets"]], out
            for sheet, sheet_spec in zip(workbook.worksheets, spec["sheets"], strict=True):
                assert [c.value for c in sheet[1]] == sheet_spec["rows"][0]


def test_generated_files_are_up_to_date(tmp_path: Path) -> None:
    """Rebuilding from scripts/corpus_src gives the committed files (same text; same bytes for text files)."""
    for module in ("reportlab", "docx", "pptx", "openpyxl"):
        pytest.importorskip(module, reason=f"{module} is not installed: pip install 'ragqa[dev]' (reportlab) "
                                           "and pip install -e . (python-docx, python-pptx, openpyxl)")
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import build_docs_corpus
    finally:
        sys.path.remove(str(REPO / "scripts"))
    built = list(build_docs_corpus.build_all(SRC, tmp_path))
    assert built
    for path in built:
        rel = path.relative_to(tmp_path).as_posix()
        committed = CORPUS / rel
        assert committed.exists(), f"{rel} is generated but not committed; run scripts/build_docs_corpus.py"
        if path.suffix in {".txt", ".json"}:
            assert path.read_bytes() == committed.read_bytes(), rel
    # Binary formats: compare extracted text, which is stable across library versions.
    for out, spec in _specs().items():
        if spec["format"] in {"pdf", "docx", "pptx", "xlsx"}:
            assert _extract(out, root=tmp_path) == _extract(out), out


# ---------------------------------------------------------------------------------------- QA


def test_qa_schema_and_counts() -> None:
    rows = _qa()
    assert len(rows) >= 60
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    for row in rows:
        assert QA_KEYS <= set(row) <= QA_KEYS | {"cross_lingual"}, row
        assert re.fullmatch(r"q\d{3}", row["id"]), row["id"]
        assert isinstance(row["question"], str) and row["question"].strip()
        assert isinstance(row["answer"], str)
        assert isinstance(row["answerable"], bool)
        assert row["lang"] in {"ja", "en"}
        assert isinstance(row["groups"], list) and set(row["groups"]) <= KNOWN_GROUPS
        assert row.get("cross_lingual", True) is True, "cross_lingual is present only when true"
        has_ja = bool(_JA_CHARS.search(row["question"]))
        assert has_ja == (row["lang"] == "ja"), row["id"]
        if row["answerable"]:
            assert row["answer"].strip() and row["source"], row["id"]
            assert row["page"] is None or (isinstance(row["page"], int) and row["page"] >= 1)
        else:
            assert row["answer"] == "" and row["source"] is None and row["page"] is None, row["id"]
            assert row["section"] is None and row["groups"] == [] and "cross_lingual" not in row, row["id"]
    ja = sum(r["lang"] == "ja" for r in rows)
    assert 2 * ja >= len(rows), f"{ja} of {len(rows)} questions are Japanese"
    unanswerable = [r for r in rows if not r["answerable"]]
    assert len(unanswerable) >= 10
    assert {r["lang"] for r in unanswerable} == {"ja", "en"}
    assert sum(bool(r["groups"]) for r in rows) >= 5
    cross = [r for r in rows if r.get("cross_lingual")]
    assert len(cross) >= 6 and {r["lang"] for r in cross} == {"ja", "en"}


def test_qa_sources_exist_and_pages_fit() -> None:
    for row in _qa():
        if not row["answerable"]:
            continue
        path = CORPUS / row["source"]
        assert path.is_file(), row["source"]
        paged = path.suffix in {".pdf", ".pptx", ".xlsx"}
        assert (row["page"] is not None) == paged, f"{row['id']}: page must be set exactly for pdf/pptx/xlsx"


def test_qa_groups_match_document_access() -> None:
    for row in _qa():
        if row["answerable"]:
            assert set(row["groups"]) == _doc_groups(row["source"]), row["id"]


def test_cross_lingual_questions_differ_in_language_from_their_source() -> None:
    for row in _qa():
        if row.get("cross_lingual"):
            answer_is_ja = bool(_JA_CHARS.search(row["answer"]))
            assert answer_is_ja != (row["lang"] == "ja"), (
                f"{row['id']}: answer language equals question language"
            )


@pytest.mark.parametrize("row", [r for r in _qa() if r["answerable"]], ids=lambda r: r["id"])
def test_answer_and_section_occur_in_source(row: dict[str, Any]) -> None:
    text = _squash(_extract(row["source"], row["page"]))
    assert _squash(row["answer"]) in text, (
        f"{row['id']}: {row['answer']!r} not in {row['source']} p.{row['page']}"
    )
    if row["section"] is not None:
        whole = _squash(_strip_front_matter(_extract(row["source"])))
        assert _squash(row["section"]) in whole, f"{row['id']}: section {row['section']!r} not found"
