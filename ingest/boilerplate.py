"""Running headers, footers and page numbers: lines repeated at the edges of most pages.

A filing prints "Apple Inc. | Q1 2023 Form 10-Q | 10" at the foot of every page and "Table of
Contents" at its head; indexed as text, these lines end up in chunks and in extractive answers.
:func:`find_boilerplate` looks at the first and last ``edge_lines`` non-empty lines of every page
of one document, normalises them (digit runs become ``#``, so the page number does not make each
footer unique; whitespace squashed; case folded) and returns the normalised lines found on at
least ``min_fraction`` of the pages. :func:`strip_boilerplate` then drops those lines from a
page's edges. A line repeated only in the middle of pages (a column heading, "(in millions)") is
never counted nor removed. Pure functions over lists of lines: no PDF here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["find_boilerplate", "normalise_line", "strip_boilerplate"]

_DIGITS = re.compile(r"\d+")

# Defaults, chosen on the FinanceBench filings: running headers and footers sit in the first or
# last 3 lines of pdfium's page text (a footer can be 2 lines plus the page number); "most pages"
# is half of them, so that a header that changes with the part of a 10-K still counts when one
# part spans over half the document; fewer than 3 pages is too few to tell a footer from content.
EDGE_LINES = 3
MIN_FRACTION = 0.5
MIN_PAGES = 3


def normalise_line(line: str) -> str:
    """The key a line is counted under: digit runs as ``#``, single spaces, case folded."""
    return " ".join(_DIGITS.sub("#", line).split()).casefold()


def _edges(lines: Sequence[str], edge_lines: int) -> list[int]:
    """Indices of the first and last ``edge_lines`` non-blank lines (each index once)."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if len(filled) <= 2 * edge_lines:
        return filled
    return filled[:edge_lines] + filled[-edge_lines:]


def find_boilerplate(
    pages: Sequence[Sequence[str]],
    *,
    edge_lines: int = EDGE_LINES,
    min_fraction: float = MIN_FRACTION,
    min_pages: int = MIN_PAGES,
) -> frozenset[str]:
    """Normalised lines at the edges of at least ``min_fraction`` of ``pages`` (each page a list
    of lines), and of at least ``min_pages`` pages. Empty for documents under ``min_pages`` pages."""
    if len(pages) < min_pages:
        return frozenset()
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({normalise_line(lines[i]) for i in _edges(lines, edge_lines)})
    needed = max(min_pages, min_fraction * len(pages))
    return frozenset(key for key, n in counts.items() if n >= needed and key)


def strip_boilerplate(
    lines: Sequence[str], boilerplate: frozenset[str], *, edge_lines: int = EDGE_LINES
) -> list[str]:
    """``lines`` without the edge lines whose normalised form is in ``boilerplate``."""
    if not boilerplate:
        return list(lines)
    drop = {i for i in _edges(lines, edge_lines) if normalise_line(lines[i]) in boilerplate}
    return [line for i, line in enumerate(lines) if i not in drop]
