"""PDF via pypdf, one page at a time (``page`` is 1-based), text only (no OCR).

Encrypted PDFs: a PDF with only an owner password (an empty user password: it opens in any
viewer without asking, but e.g. copying is "restricted") is decrypted with the empty
password and loaded, as every viewer does. A PDF that needs a user password raises
LoadError("encrypted PDF: ..."). AES-encrypted files need the ``cryptography`` package.

A file without a ``%%EOF`` marker near its end is rejected as truncated, even though pypdf
could often recover some pages: silently indexing half a document is worse than an error.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.base import LoadError, make_block
from ingest.types import Block

log = logging.getLogger(__name__)

# The PDF header may follow some junk bytes (the spec tolerates 1 KiB); %%EOF may be followed
# by padding or by junk appended by mail gateways.
HEADER_WINDOW = 1024
EOF_WINDOW = 64 * 1024
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


_SENTENCE_END = tuple("。．.!?！？:：」』）)")


def _width(line: str) -> int:
    """Display width: CJK and full-width characters count 2 (they fill the line twice as fast)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def unwrap_lines(text: str, fill: float = 0.8) -> str:
    """Join lines that the PDF wrapped at the right margin back into one line.

    pypdf returns a paragraph as its printed lines, which splits Japanese words mid-way
    ("…10日の年次有給休暇を付" / "与する。"). A line is taken as wrapped when it reaches ``fill``
    of the widest line on the page and does not end a sentence; it is joined to the next line
    with nothing between CJK characters and a space otherwise. Short lines (headings, table
    cells, a paragraph's last line) keep their line break.
    """
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    widest = max(_width(ln.rstrip()) for ln in lines)
    out: list[str] = [lines[0]]
    for nxt in lines[1:]:
        prev = out[-1].rstrip()
        wrapped = (
            widest >= 20 and _width(prev) >= fill * widest and not prev.endswith(_SENTENCE_END)
            and nxt.strip() != ""
        )
        if wrapped:
            if prev.endswith("-") and not prev.endswith("--") and nxt[:1].islower():
                out[-1] = prev[:-1] + nxt.lstrip()  # "inter-" + "national": a hyphenated word
            elif prev and _is_cjk(prev[-1]) and _is_cjk(nxt.lstrip()[:1] or " "):
                out[-1] = prev + nxt.lstrip()
            else:
                out[-1] = prev + " " + nxt.lstrip()
        else:
            out.append(nxt)
    return "\n".join(out)


def _check_envelope(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(HEADER_WINDOW)
        f.seek(max(0, size - EOF_WINDOW))
        tail = f.read()
    if b"%PDF-" not in head:
        raise LoadError(path, "corrupt or truncated PDF: no %PDF- header (is it really a PDF?)")
    if b"%%EOF" not in tail:
        raise LoadError(
            path,
            "corrupt or truncated PDF: no %%EOF marker at the end (the file was cut short?); re-export it",
        )


def load_pdf(path: Path) -> Iterator[Block]:
    """Blocks of a PDF: per page, one ``text`` block per blank-line-separated paragraph."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    _check_envelope(path)
    with path.open("rb") as f:
        try:
            reader = PdfReader(f, strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except DependencyError as e:
                    raise LoadError(
                        path,
                        "encrypted PDF (AES): reading it needs `pip install cryptography`, "
                        "or remove the encryption",
                    ) from e
                if opened == PasswordType.NOT_DECRYPTED:
                    raise LoadError(path, "encrypted PDF: provide the password or remove it")
            n_pages = len(reader.pages)
        except LoadError:
            raise
        except (
            PdfReadError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            IndexError,
            RecursionError,
        ) as e:
            raise LoadError(path, f"corrupt or truncated PDF: {type(e).__name__}: {e}") from e
        if n_pages == 0:
            raise LoadError(path, "PDF has no pages")
        found_text = False
        failed: list[int] = []
        for number in range(1, n_pages + 1):
            try:
                text = reader.pages[number - 1].extract_text()
            except Exception as e:  # one malformed page must not lose the rest of the document
                log.warning("%s: page %d: text extraction failed: %s: %s", path, number, type(e).__name__, e)
                failed.append(number)
                continue
            for paragraph in _PARAGRAPH_BREAK.split(text or ""):
                block = make_block(unwrap_lines(paragraph), "text", page=number)
                if block is not None:
                    found_text = True
                    yield block
        if not found_text:
            if failed:
                raise LoadError(
                    path,
                    f"corrupt PDF: text extraction failed on pages {failed[:10]} and found no text elsewhere",
                )
            raise LoadError(path, "no extractable text (scanned PDF? OCR is not supported)")
