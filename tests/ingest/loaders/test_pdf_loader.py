from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.loaders import LoadError, load_blocks

MakePdf = Callable[..., Path]


def test_multi_page_pdf_pages_are_one_based(make_pdf: MakePdf) -> None:
    path = make_pdf("three.pdf", ["Policy overview\nApplies to all staff", "Second page", "Last page"])
    blocks = list(load_blocks(path))
    assert [(b.page, b.kind, b.text) for b in blocks] == [
        (1, "text", "Policy overview\nApplies to all staff"),
        (2, "text", "Second page"),
        (3, "text", "Last page"),
    ]
    assert all(b.heading_path == () for b in blocks)


def test_table_free_pages_never_reach_the_table_finder(make_pdf: MakePdf, monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.loaders.pdf as pdf_loader

    calls: list[object] = []
    monkeypatch.setattr(pdf_loader, "find_tables", lambda page: calls.append(page) or [])
    path = make_pdf("plain.pdf", [f"Section {i}: prose about topic {'abcde'[i]}" for i in range(5)])
    assert [b.page for b in load_blocks(path)] == [1, 2, 3, 4, 5]
    assert calls == []


def test_scanned_pages_are_skipped_but_text_pages_kept(make_pdf: MakePdf) -> None:
    path = make_pdf("mixed.pdf", [None, "Text on page two", None])
    assert [(b.page, b.text) for b in load_blocks(path)] == [(2, "Text on page two")]


def test_pdf_without_text_is_an_error(make_pdf: MakePdf) -> None:
    path = make_pdf("scan.pdf", [None, None])
    with pytest.raises(LoadError, match=r"no extractable text \(scanned PDF\? OCR is not supported\)"):
        list(load_blocks(path))


def test_encrypted_pdf_with_user_password_is_an_error(make_pdf: MakePdf, tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(make_pdf("plain.pdf", ["secret salaries"])))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    writer.write(path)
    with pytest.raises(LoadError, match="encrypted PDF: provide the password or remove it"):
        list(load_blocks(path))


def test_owner_password_only_pdf_is_read(make_pdf: MakePdf, tmp_path: Path) -> None:
    # Empty user password: every viewer opens it without asking, so the loader does too.
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=str(make_pdf("plain.pdf", ["restricted copying only"])))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "restricted.pdf"
    writer.write(path)
    assert PdfReader(path).is_encrypted
    assert [b.text for b in load_blocks(path)] == ["restricted copying only"]


def test_truncated_pdf(make_pdf: MakePdf, tmp_path: Path) -> None:
    data = make_pdf("full.pdf", ["one", "two", "three"]).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(LoadError, match="corrupt or truncated PDF"):
        list(load_blocks(path))


def test_corrupt_pdf_body(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\nstartxref\n999999\n%%EOF\n")
    with pytest.raises(LoadError, match="corrupt or truncated PDF"):
        list(load_blocks(path))


def test_not_a_pdf_at_all(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_text("<html>an error page saved as .pdf</html>")
    with pytest.raises(LoadError, match="no %PDF- header"):
        list(load_blocks(path))


def test_zero_page_pdf(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    path = tmp_path / "empty.pdf"
    PdfWriter().write(path)
    with pytest.raises(LoadError, match="PDF has no pages"):
        list(load_blocks(path))


def test_korean_pdf_text_comes_back(mixed_formats: Path) -> None:
    blocks = list(load_blocks(mixed_formats / "pdf" / "korean-text-with-tables.pdf"))
    text = "\n".join(b.text for b in blocks)
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    assert hangul > 100
    assert "적립" in text
    assert {b.page for b in blocks} == {1}


def test_every_mixed_formats_pdf_loads(mixed_formats: Path) -> None:
    for path in sorted((mixed_formats / "pdf").glob("*.pdf")):
        start = time.perf_counter()
        blocks = list(load_blocks(path))
        assert blocks, path
        assert all(b.page is not None and b.page >= 1 for b in blocks)
        assert time.perf_counter() - start < 10, path


def test_unwrap_lines_rejoins_margin_wrapped_lines_in_japanese_and_english() -> None:
    from ingest.loaders.pdf import unwrap_lines

    ja = ("第2条（年次有給休暇の付与）\n"
          "入社日から6か月間継続勤務した従業員に対し、10日の年次有給休暇を付\n"
          "与する。\n"
          "勤続年数\n"
          "付与日数")
    assert unwrap_lines(ja).split("\n") == [
        "第2条（年次有給休暇の付与）",
        "入社日から6か月間継続勤務した従業員に対し、10日の年次有給休暇を付与する。",
        "勤続年数",
        "付与日数",
    ]
    en = ("1. Scope\n"
          "This agreement covers the web application and the public REST API for all\n"
          "customers on paid plans. Support is inter-\n"
          "national.")
    assert unwrap_lines(en).split("\n") == [
        "1. Scope",
        "This agreement covers the web application and the public REST API for all customers on paid plans. "
        "Support is international.",
    ]


def test_a_page_of_only_boilerplate_yields_nothing(make_pdf: MakePdf) -> None:
    pages = [f"ACME Corp | Annual Report | {n}\nSection {n} text about widgets {'abcd'[n]}" for n in range(4)]
    pages.insert(2, "ACME Corp | Annual Report | 9")
    path = make_pdf("report.pdf", pages)
    blocks = list(load_blocks(path))
    assert [b.page for b in blocks] == [1, 2, 4, 5]
    assert not any("ACME" in b.text for b in blocks)
