"""Titles of column groups in a period table, placed by where they are printed on the page.

A filing often prints two or three measures side by side under one header line, the years
repeated for each, and the measures' names on the line above::

                  Assets                 Depreciation & Amortization     Capital Expenditures
    (Millions)    2018    2017    2016    2018    2017    2016           2018    2017    2016

As text that line is "Assets Depreciation & Amortization Capital Expenditures": which words name
which group is a matter of position. Here the year words at the end of the header line are cut
into the groups (runs of the given lengths), the title lines right above it (up to
``MAX_TITLE_ROWS``, prose beside the table left out) are cut into phrases at wide gaps, and each
phrase goes to every group whose columns it overlaps, else to the nearest by horizontal centre
(page points). Pure geometry on word boxes: ``printed_lines`` once a page, then
``column_group_titles`` for each grouped header on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

LINE_TOLERANCE = 2.0  # points: words whose tops differ by less are on one printed line
PHRASE_GAP = 6.0  # points: a wider gap between two words of a title line starts a new title
MAX_TITLE_ROWS = 3  # printed lines of titles above the header
MAX_ROW_GAP = 16.0  # points from one title line's top to the next one's (a blank line ends titles)
OVERLAP_TOLERANCE = 2.0  # points: a title this close to a group's columns stands over them

Word = Mapping[str, Any]  # pdfplumber's word: "text", "x0", "x1", "top", "bottom" (points)
Span = tuple[float, float]  # (left, right), points


def printed_lines(words: Sequence[Word]) -> list[list[Word]]:
    """A page's ``words`` as printed lines, top to bottom, each left to right."""
    lines: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines and abs(lines[-1][0]["top"] - w["top"]) < LINE_TOLERANCE:
            lines[-1].append(w)
        else:
            lines.append([w])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]


def _norm(text: str) -> str:
    return "".join(text.split())


def _phrases(line: Sequence[Word]) -> list[tuple[str, Span]]:
    """A title line's words joined where they are a word space apart: (text, span) each."""
    out: list[tuple[list[str], list[float]]] = []
    for w in line:
        if out and w["x0"] - out[-1][1][1] <= PHRASE_GAP:
            out[-1][0].append(str(w["text"]))
            out[-1][1][1] = w["x1"]
        else:
            out.append(([str(w["text"])], [w["x0"], w["x1"]]))
    return [(" ".join(t), (a, b)) for t, (a, b) in out]


def group_spans(header: Sequence[Word], groups: Sequence[int]) -> list[Span]:
    """(left, right) of each group's columns (``groups``: columns a group), the header's last words."""
    years = header[len(header) - sum(groups) :]
    spans, start = [], 0
    for n in groups:
        spans.append((years[start]["x0"], years[start + n - 1]["x1"]))
        start += n
    return spans


def _covered(span: Span, spans: Sequence[Span]) -> list[int]:
    """The groups a title printed over ``span`` names: those it overlaps, else the nearest."""
    over = [g for g, (a, b) in enumerate(spans) if span[0] - OVERLAP_TOLERANCE <= b and a <= span[1] + OVERLAP_TOLERANCE]
    if over:
        return over
    centre = (span[0] + span[1]) / 2
    return [min(range(len(spans)), key=lambda g: abs((spans[g][0] + spans[g][1]) / 2 - centre))]


def assign_titles(rows: Sequence[Sequence[Word]], spans: Sequence[Span]) -> tuple[str, ...] | None:
    """Each group's title from the title ``rows`` (top to bottom): every phrase goes to the groups
    it stands over (a phrase over two groups names both: "Pension" over "U.S." and
    "International"); None when a group gets no phrase."""
    parts: list[list[str]] = [[] for _ in spans]
    for row in rows:
        for text, span in _phrases(row):
            for g in _covered(span, spans):
                parts[g].append(text)
    if not all(parts):
        return None
    return tuple(" ".join(p) for p in parts)


def _title_rows(lines: Sequence[Sequence[Word]], i: int, spans: Sequence[Span]) -> list[list[Word]]:
    """The words over the groups' columns on the printed lines right above ``lines[i]`` (prose
    beside the table left out), top to bottom."""
    left, right = spans[0][0] - PHRASE_GAP, spans[-1][1] + PHRASE_GAP
    rows: list[list[Word]] = []
    top = lines[i][0]["top"]
    for line in reversed(lines[max(0, i - MAX_TITLE_ROWS) : i]):
        over = [w for w in line if left <= (w["x0"] + w["x1"]) / 2 <= right]
        if not over or top - line[0]["top"] > MAX_ROW_GAP:
            break
        rows.insert(0, over)
        top = line[0]["top"]
    return rows


def _same_tail(a: str, b: str) -> bool:
    """One text ends the other: the text's title line and the printed one over the groups may
    differ by words PDFium put on a line of their own or prose beside the table."""
    return bool(a and b) and (a.endswith(b) or b.endswith(a))


def column_group_titles(lines: Sequence[Sequence[Word]], title_line: str, header_line: str,
                        groups: Sequence[int]) -> tuple[str, ...] | None:
    """The titles of the column groups (``groups``: columns each) of the header line
    ``header_line`` (its last words are the periods) whose titles' last printed line reads
    ``title_line``, found among the page's ``lines`` (``printed_lines``); None when no such lines
    are printed one above the other or the titles do not fall into the groups."""
    n = sum(groups)
    periods = [_norm(w) for w in header_line.split()[-n:]]
    for i, line in enumerate(lines):
        if len(line) < n or [_norm(str(w["text"])) for w in line[-n:]] != periods:
            continue
        spans = group_spans(line, groups)
        rows = _title_rows(lines, i, spans)
        if not rows or not _same_tail(_norm(title_line), _norm(" ".join(str(w["text"]) for w in rows[-1]))):
            continue
        titles = assign_titles(rows, spans)
        if titles is not None:
            return titles
    return None
