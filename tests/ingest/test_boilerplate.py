from __future__ import annotations

from pathlib import Path

import pytest

from ingest.boilerplate import find_boilerplate, normalise_line, strip_boilerplate

FILING = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "financebench" / "pdfs" / "3M_2018_10K.pdf"


def _pages() -> list[list[str]]:
    bodies = [["Revenue grew 12 percent.", "Margins held."], ["Capex was $1.2 billion."],
              ["Risk factors follow.", "Currency risk."], ["(in millions)", "Total 42"]]  # fmt: skip
    return [["Table of Contents", *body, f"Apple Inc. | Q1 2023 Form 10-Q | {n}"] for n, body in enumerate(bodies, 1)]


def test_running_header_and_numbered_footer_are_found() -> None:
    assert normalise_line("Apple Inc.  |  Q1 2023 Form 10-Q | 10") == "apple inc. | q# # form #-q | #"
    assert find_boilerplate(_pages()) == {"table of contents", "apple inc. | q# # form #-q | #"}


def test_stripping_keeps_the_content_lines() -> None:
    pages = _pages()
    found = find_boilerplate(pages)
    assert [strip_boilerplate(p, found) for p in pages] == [
        ["Revenue grew 12 percent.", "Margins held."], ["Capex was $1.2 billion."],
        ["Risk factors follow.", "Currency risk."], ["(in millions)", "Total 42"],
    ]  # fmt: skip


def test_a_line_on_a_minority_of_pages_or_in_a_short_document_stays() -> None:
    pages = [["Intro", "Note A"], ["Body", "Note A"], ["More"], ["End"], ["Appendix"]]
    assert find_boilerplate(pages) == frozenset()  # 2 of 5 pages
    assert find_boilerplate(pages[:2]) == frozenset()  # under 3 pages: cannot tell


def test_a_repeated_line_in_the_middle_of_pages_is_content() -> None:
    pages = [["Title", "a", "b", "c", "(in millions)", "d", "e", "f", "Footer 1"] for _ in range(4)]
    found = find_boilerplate(pages)
    assert "(in millions)" not in found and "footer #" in found and "title" in found


def test_real_filing_footers_and_page_numbers_are_found() -> None:
    if not FILING.is_file():
        pytest.skip(f"{FILING} is absent (see ../shared/datasets/README.md)")
    from ingest.loaders.pdf import _open, _page_lines

    document = _open(FILING)
    try:
        pages = [_page_lines(document[i]) for i in range(len(document))]
    finally:
        document.close()
    found = find_boilerplate(pages)
    assert "table of contents" in found and "#" in found  # the link at the top, the page number
    stripped = [strip_boilerplate(p, found) for p in pages]
    removed = sum(len(p) for p in pages) - sum(len(p) for p in stripped)
    assert removed >= len(pages)  # at least one line a page
    text = "\n".join("\n".join(p) for p in stripped)
    assert "Fourth-quarter 2018 sales and operating income by business segment" in text
