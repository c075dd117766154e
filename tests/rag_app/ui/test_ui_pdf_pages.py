from __future__ import annotations

import io
from pathlib import Path

import pytest

from rag_app.ui.pdf_pages import find_ranges, normalise_with_map, render_cited_page, render_page
from tests.rag_app.ui.ui_corpus import PDF_SENTENCE, write_pdf


def test_normalised_text_maps_back_to_source_characters() -> None:
    norm, where = normalise_with_map("Ａ b\nC")
    assert norm == "abc" and where == [0, 2, 4]


def test_passages_are_found_across_whitespace_and_by_head_and_tail() -> None:
    page = "Backup window\r\nThe Kestrel backup  window lasts four hours\neach night."
    (start, count), = find_ranges(page, ["The Kestrel backup window lasts four hours each night."])
    assert page[start:start + count] == "The Kestrel backup  window lasts four hours\neach night."
    # the tail runs onto another page: the head is still found
    assert len(find_ranges(page, ["The Kestrel backup window lasts four hours and then something else entirely"])) == 1
    assert find_ranges(page, ["nowhere"]) == []


def test_the_cited_page_is_rendered_with_the_passage_boxed(tmp_path: Path) -> None:
    from PIL import Image

    pdf = tmp_path / "b.pdf"
    write_pdf(pdf, [["First page only."], ["Backup window", PDF_SENTENCE]])
    shown = render_cited_page(pdf, 1, [PDF_SENTENCE])  # the chunk starts on page 1, the passage is on 2
    assert (shown.page, shown.pages) == (2, 2) and shown.found
    img = Image.open(io.BytesIO(shown.png))
    left, top, right, bottom = shown.boxes[0]
    assert 0 <= left < right <= img.width and 0 <= top < bottom <= img.height
    r, _g, b = img.convert("RGB").getpixel((int(left) + 1, int((top + bottom) / 2)))[:3]
    assert r > 200 and b < 200  # yellow highlight over white paper
    assert not render_cited_page(pdf, 1, ["not on any page at all here"]).found
    with pytest.raises(ValueError, match=r"page 5 is not in b\.pdf"):
        render_page(pdf, 5, [])


def test_a_table_row_is_found_by_its_cell_values_in_reading_order() -> None:
    page = "Severity Definition First response\nSEV1 Full outage 15 minutes\nSEV2 Major feature down 30 minutes"
    ranges = find_ranges(page, ["Severity: SEV2 | Definition: Major feature down | First response: 30 minutes"])
    assert [page[a:a + n] for a, n in ranges] == ["SEV2", "Major feature down", "30 minutes"]
    assert page.index("30 minutes") == ranges[-1][0]  # not the SEV1 row's "15 minutes"
