"""What every loader shares: the error type, text cleaning, and the file-level guard.

Loaders are generators of :class:`~ingest.types.Block`. :func:`guarded` wraps one so that
whatever goes wrong while reading a file surfaces as a :class:`LoadError` with a reason a
person can act on, and so that a file which yields nothing is an error, never a silent
empty document.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.types import BLOCK_SEPARATOR, Block

log = logging.getLogger(__name__)

# C0 controls except \t and \n, DEL, C1 controls. \r, \v and \f are line breaks handled first.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("\r\n|[\r\v\f\x1c\x1d\x1e\u2028\u2029\x85]")
# A newline followed by one or more whitespace-only lines: collapse to one newline so that no
# block text contains BLOCK_SEPARATOR ("\n\n"). Keeps the indentation of the next line.
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")

# Magic numbers that identify what a file really is, for clearer errors on mislabelled files.
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .doc/.xls/.ppt, or an encrypted OOXML file


class LoadError(Exception):
    """A file could not be turned into blocks. ``reason`` says why and what to do about it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple[type[LoadError], tuple[Path, str]]:
        # Picklable across process pools (the default would call __init__ with one argument).
        return (LoadError, (self.path, self.reason))


def clean_text(text: str, *, keep_indent: bool = False) -> str:
    """Normalise a block's text: unified newlines, no control characters, no blank lines.

    The result never contains ``"\\n\\n"``. Leading/trailing whitespace is stripped; with
    ``keep_indent`` (code) only leading blank lines and trailing whitespace are.
    """
    if text.isprintable():  # fast path: one line, no control or format characters
        return text.rstrip() if keep_indent else text.strip()
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text).replace("\ufeff", "")
    text = _TRAILING_SPACE.sub("\n", text)
    text = _BLANK_LINES.sub("\n", text)
    if keep_indent:
        return text.lstrip("\n").rstrip()
    return text.strip()


def squash_spaces(text: str) -> str:
    """One line, single spaces: for table cells, where a newline would break the record."""
    if not text.isprintable():
        text = _CONTROL.sub("", text).replace("\ufeff", "")
    return " ".join(text.split())


def make_block(
    text: str,
    kind: str = "paragraph",
    *,
    page: int | None = None,
    heading_path: tuple[str, ...] = (),
    sheet: str | None = None,
    table_id: str | None = None,
) -> Block | None:
    """A cleaned Block, or None when nothing but whitespace is left (callers skip those)."""
    cleaned = clean_text(text, keep_indent=kind == "code")
    if not cleaned:
        return None
    assert BLOCK_SEPARATOR not in cleaned
    return Block(
        text=cleaned, kind=kind, page=page, heading_path=heading_path, sheet=sheet, table_id=table_id
    )


def sniff_container(path: Path, head: bytes, expected: str) -> None:
    """Raise a LoadError when an Office file (``expected`` = "docx", ...) is not a zip."""
    if head.startswith(ZIP_MAGIC):
        return
    if head.startswith(OLE_MAGIC):
        raise LoadError(
            path,
            f"not a valid .{expected} (zip) file: it is an OLE container, i.e. a legacy binary "
            f"Office file (.doc/.xls/.ppt renamed?) or a password-protected document; "
            f"remove the password or re-save it as .{expected}",
        )
    raise LoadError(path, f"not a valid .{expected} (zip) file: re-save it as .{expected} and retry")


def read_head(path: Path, n: int = 8) -> bytes:
    with path.open("rb") as f:
        return f.read(n)


def guarded(path: Path, blocks: Iterator[Block], what: str) -> Iterator[Block]:
    """Re-raise anything a loader hits as a LoadError; refuse to end with zero blocks.

    ``what`` names the format in messages ("PDF", ".docx", ...).
    """
    n = 0
    try:
        for block in blocks:
            n += 1
            yield block
    except LoadError:
        raise
    except FileNotFoundError as e:
        raise LoadError(path, "file disappeared while reading (deleted or moved during ingest)") from e
    except PermissionError as e:
        raise LoadError(path, "permission denied while reading: check the file's permissions") from e
    except IsADirectoryError as e:
        raise LoadError(path, "is a directory, not a file") from e
    except (MemoryError, ImportError):  # not the file's fault
        raise
    except UnicodeDecodeError as e:
        raise LoadError(path, f"undecodable text in {what} ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise LoadError(path, f"I/O error while reading: {e.strerror or e}") from e
    except Exception as e:  # third-party parsers raise anything on malformed input
        log.debug("loader failure on %s", path, exc_info=True)
        raise LoadError(
            path, f"could not parse {what}: {type(e).__name__}: {e} (is the file corrupt?)"
        ) from e
    if n == 0:
        raise LoadError(path, f"no text found in {what} (the document has no readable content)")


@dataclass
class Outline:
    """Where a loader is in a document's structure: the open headings, outermost first, and
    how many tables it has seen (for table ids). Shared by the DOCX, HTML and Markdown loaders."""

    headings: list[tuple[int, str]] = field(default_factory=list)  # (level, text)
    tables: int = 0

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.headings)

    def enter(self, level: int, text: str) -> None:
        """A heading of ``level``: close the open ones at that level or deeper, then open it
        (an empty heading only closes)."""
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        if text:
            self.headings.append((level, text))
