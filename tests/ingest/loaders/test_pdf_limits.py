"""A valid PDF beyond pypdf's safety limits parses, with exact page numbers (issue #14)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from ingest.loaders import load_blocks

ARRAY_ELEMENTS = 120_002  # pypdf refuses arrays over 100,000 elements (LimitReachedError)


def _pdf(pages: list[bytes]) -> bytes:
    """A minimal, valid PDF (Helvetica, one content stream per page) with a correct xref table."""
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()]  # fmt: skip
    font = 3 + 2 * n
    for i, content in enumerate(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode())  # fmt: skip
        data = zlib.compress(content)
        objects.append(f"<< /Length {len(data)} /Filter /FlateDecode >>\nstream\n".encode() + data + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _text(line: str) -> bytes:
    return f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode()


def _huge_array_page(line: str) -> bytes:
    # One TJ array of ARRAY_ELEMENTS elements: the line's text, then pairs of (kerning, empty string).
    pad = b" 0 ()" * ((ARRAY_ELEMENTS - 1) // 2)
    return b"BT /F1 12 Tf 72 720 Td [(" + line.encode() + b")" + pad + b"] TJ ET"


@pytest.fixture
def huge_array_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "filing.pdf"
    path.write_bytes(_pdf([_text("Cover page of the report"),
                           _huge_array_page("Revenue grew 12 percent in fiscal 2023"),
                           _text("Signatures and certifications")]))  # fmt: skip
    return path


def test_pypdf_alone_refuses_the_file(huge_array_pdf: Path) -> None:
    # The premise: the old path (pypdf) hits its limit on this valid file.
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    with pytest.raises(LimitReachedError, match="maximum array element count"):
        PdfReader(huge_array_pdf).pages[1].extract_text()


def test_a_valid_pdf_over_pypdfs_array_limit_parses_with_its_page_numbers(huge_array_pdf: Path) -> None:
    assert [(b.page, b.text) for b in load_blocks(huge_array_pdf)] == [
        (1, "Cover page of the report"),
        (2, "Revenue grew 12 percent in fiscal 2023"),
        (3, "Signatures and certifications"),
    ]
