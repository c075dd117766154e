"""Document loaders: a file in, :class:`~ingest.types.Block` s out, in reading order.

``load_blocks(path)`` picks the loader by file extension. Checks that need no parsing
(supported type, file present, not empty) happen at the call; the rest while iterating.
Whatever goes wrong surfaces as :class:`LoadError` with a reason a person can act on, and a
file that yields no block is an error too. Text, Markdown, CSV and PDF files are read
lazily, so memory stays bounded for very large files. Nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ingest.loaders.base import LoadError, clean_text, guarded
from ingest.types import Block

SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    "pdf",
    "docx",
    "pptx",
    "xlsx",
    "csv",
    "html",
    "htm",
    "md",
    "markdown",
    "txt",
)

# Extension -> canonical file type.
_FILE_TYPES = {ext: ext for ext in SUPPORTED_EXTENSIONS} | {"htm": "html", "markdown": "md"}
_NAMES = {"pdf": "PDF", "docx": ".docx", "pptx": ".pptx", "xlsx": ".xlsx", "csv": "CSV",
          "html": "HTML", "md": "Markdown", "txt": "text file"}  # fmt: skip

__all__ = ["LOADER_VERSIONS", "SUPPORTED_EXTENSIONS", "LoadError", "check_loader_options", "clean_text",
           "file_type_of", "load_blocks", "loader_options", "loader_version"]

# A loader whose blocks change for the same file bumps its version here: it is part of the
# fingerprint of that type's documents (ingest.pipeline.document_job), so the next ingest
# re-reads them; other types keep their fingerprints. pdf 2: period tables as rows (issue #14);
# pdf 3: tables read from PDFium's characters and edges (words split at the glyphs' spaces);
# pdf 4: the column groups of a period header ("Assets | Capital Expenditures" over repeated
# years) as one table each.
LOADER_VERSIONS: dict[str, int] = {"pdf": 4}


def loader_version(file_type: str) -> int:
    """The version of ``file_type``'s loader (1 until it first changed its output)."""
    return LOADER_VERSIONS.get(file_type, 1)


def loader_options(file_type: str) -> str:
    """The settings that change what ``file_type``'s loader emits for the same file ("" when
    none): part of its documents' fingerprints, so changing one re-reads them. PDF: the table
    mode ("tables=ruled", from ``$RAGQA_PDF_TABLES``; a bad value raises ValueError naming the
    allowed ones)."""
    if file_type != "pdf":
        return ""
    from ingest.loaders.pdf import table_mode

    return f"tables={table_mode()}"


def check_loader_options() -> None:
    """Raise ValueError for a bad loader setting of any file type (see :func:`loader_options`)."""
    for file_type in set(_FILE_TYPES.values()):
        loader_options(file_type)


def file_type_of(path: Path) -> str:
    """Canonical type of ``path`` from its extension ("pdf", "md", "html", ...), case-insensitive.

    ``.htm`` is "html" and ``.markdown`` is "md". Raises LoadError for anything else.
    """
    ext = path.suffix.lower().lstrip(".")
    if ext not in _FILE_TYPES:
        shown = f"'.{ext}'" if ext else "(no extension)"
        raise LoadError(
            path,
            f"unsupported file type {shown}; supported: {', '.join('.' + e for e in SUPPORTED_EXTENSIONS)}",
        )
    return _FILE_TYPES[ext]


def _loader(file_type: str) -> Callable[[Path], Iterator[Block]]:
    # Imported on use: each pulls its own parser library.
    if file_type == "pdf":
        from ingest.loaders.pdf import load_pdf

        return load_pdf
    if file_type == "docx":
        from ingest.loaders.docx import load_docx

        return load_docx
    if file_type == "pptx":
        from ingest.loaders.pptx import load_pptx

        return load_pptx
    if file_type == "xlsx":
        from ingest.loaders.sheet import load_xlsx

        return load_xlsx
    if file_type == "csv":
        from ingest.loaders.sheet import load_csv

        return load_csv
    if file_type == "html":
        from ingest.loaders.html import load_html

        return load_html
    if file_type == "md":
        from ingest.loaders.markdown import load_markdown

        return load_markdown
    from ingest.loaders.text import load_text

    return load_text


def load_blocks(path: Path) -> Iterator[Block]:
    """Blocks of the file at ``path``, lazily, in reading order.

    Raises LoadError at once for an unsupported type, a missing, unreadable or empty file,
    and during iteration for content that cannot be read (corrupt, encrypted, binary...).
    """
    path = Path(path)
    file_type = file_type_of(path)
    try:
        stat = path.stat()
    except FileNotFoundError as e:
        raise LoadError(path, "file not found (deleted or moved after it was listed?)") from e
    except OSError as e:
        raise LoadError(path, f"cannot access the file: {e.strerror or e}") from e
    if path.is_dir():
        raise LoadError(path, "is a directory, not a file")
    if stat.st_size == 0:
        raise LoadError(path, "empty file")
    return guarded(path, _loader(file_type)(path), _NAMES[file_type])
