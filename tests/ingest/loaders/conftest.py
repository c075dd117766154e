"""Builders of small real documents (made with the real libraries) and dataset locations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATASETS = REPO / ".." / "shared" / "datasets"
MIXED = DATASETS / "mixed_formats"
DOCS_CORPUS = REPO / "docs_corpus"


@pytest.fixture
def mixed_formats() -> Path:
    if not MIXED.is_dir():
        pytest.skip(f"dataset folder {MIXED} is absent (see ../shared/datasets/README.md)")
    return MIXED


@pytest.fixture
def make_pdf(tmp_path: Path) -> Callable[..., Path]:
    """``make_pdf(name, pages)``: one page per entry; a str is drawn as lines of text, None
    draws only a filled rectangle (a page without text, like a scan)."""
    from reportlab.pdfgen import canvas

    def make(name: str, pages: Sequence[str | None]) -> Path:
        path = tmp_path / name
        c = canvas.Canvas(str(path))
        for page in pages:
            if page is None:
                c.rect(100, 100, 300, 300, fill=1)
            else:
                y = 750
                for line in page.split("\n"):
                    c.drawString(72, y, line)
                    y -= 16
            c.showPage()
        c.save()
        return path

    return make
