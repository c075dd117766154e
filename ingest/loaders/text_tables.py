"""Period tables in a page's text: financial statements laid out as text become header-keyed rows.

SEC filings draw most statements without rules (shaded bands or nothing), so the ruled-table
finder (:mod:`ingest.loaders.pdf_tables`) leaves them to the text path, where PDFium gives one
line a row::

    (Millions) 2018 2017 2016
    Cash Flows from Investing Activities
    Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420)

A row read that way does not say which number is 2018's. Here a *period header* (a line ending in
two to eight years: "2018 2017 2016", "(Millions) 2018 2017", "December 31, 2018 December 31, 2017")
opens a table; each following line that ends in exactly that many values is a row; a short line
without values is a section name, kept as the key of the rows under it. The rows are rendered as
the spreadsheet loader renders them (:mod:`ingest.loaders.tables`)::

    Cash Flows from Investing Activities: Purchases of property, plant and equipment (PP&E) | 2018: (1,577) | 2017: (1,373) | 2016: (1,420)

A header may repeat its periods for measures printed side by side ("Assets / Depreciation &
Amortization / Capital Expenditures" over "(Millions) 2018 2017 2016 2018 2017 2016 2018 2017
2016"): the line above names the groups, and which words name which group is read from the page
by a *title finder* (:mod:`ingest.loaders.column_groups`; without one, a title line of exactly one
word a group). Each group becomes its own table, its title last in the heading path::

    heading path: Business Segment Information > Capital Expenditures
    row:          Capital Expenditures: Total Company | 2018: $1,577 | 2017: $1,373 | 2016: $1,420

A header whose periods repeat without a title line for them stays text.

One PDFium line may hold two rows ("Depreciation and amortization 1,488 1,544 1,474 Company
pension ... (370) (967) (383)"): a line is split into label + values runs, and is a row line only
when every run of values has the header's width. Any other line ends the table; a table needs at
least ``MIN_ROWS`` rows, else its lines stay text. Pure text work: no page geometry, ~µs a line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ingest.loaders.tables import CELL_SEPARATOR

MIN_ROWS = 2
MIN_COLUMNS, MAX_COLUMNS = 2, 8  # periods of one group
MAX_GROUPS = 6  # measures side by side under one header line
MAX_SECTION_WORDS = 16  # a longer line without values is prose: it ends the table
MAX_GAP_LINES = 3  # this many lines in a row without values end the table
MAX_HEADER_LABEL_WORDS = 8
MAX_TITLE_LINES = 3

_YEAR = re.compile(r"^(?:FY)?(?:19|20)\d\d[,:]?$")
_DATE_PERIOD = re.compile(r"(?:[A-Z][a-z]{2,8}\.? \d{1,2}, )?(?:19|20)\d\d")
_DATE_HEADER = re.compile(r"^(?:[A-Z][a-z]{2,8}\.? \d{1,2}, (?:19|20)\d\d\s*){2,8}$")
# a value cell: 1,577 / (1,577) / -3.5 / 37.2% / $12 / — (nil)
_VALUE = re.compile(r"^\(?[-−]?[$€£¥]?\d[\d,]*(?:\.\d+)?\)?%?\)?$|^[—–-]$")
_CURRENCY = frozenset("$€£¥")
_MONTH = re.compile(r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?$")


@dataclass(frozen=True)
class Header:
    """A period header: its leading label ("(Millions)", "" when none), its column names and,
    for measures side by side, how many of the columns each group has (``()``: one group)."""

    label: str
    periods: tuple[str, ...]
    groups: tuple[int, ...] = ()

    def group(self, g: int) -> tuple[int, int]:
        """[start, end) of group ``g``'s columns."""
        start = sum(self.groups[:g])
        return start, start + (self.groups[g] if self.groups else len(self.periods))


# (title line, header line, columns of each group) -> each group's title, or None
TitleFinder = Callable[[str, str, tuple[int, ...]], tuple[str, ...] | None]


@dataclass(frozen=True)
class TextTable:
    """A period table found in a run of lines: the header and its rendered row records."""

    header: Header
    rows: tuple[str, ...]
    # the short lines right above the header, e.g. ("3M Company and Subsidiaries", "Consolidated
    # Statement of Cash Flows", "Years ended December 31"): a row chunk's heading path, so a chunk
    # from the middle of the table still says which statement it is
    title: tuple[str, ...] = ()


Segment = list[str] | TextTable


def parse_header(line: str) -> Header | None:
    """The period header ``line`` is, or None: ``"(Millions) 2018 2017 2016"`` -> 3 periods."""
    text = " ".join(line.split())
    if _DATE_HEADER.match(text):
        return _grouped("", tuple(m.group(0) for m in _DATE_PERIOD.finditer(text)))
    words = text.split(" ")
    n = 0
    while n < len(words) and _YEAR.match(words[len(words) - 1 - n]):
        n += 1
    label = words[: len(words) - n]
    if len(label) > MAX_HEADER_LABEL_WORDS:
        return None
    if _has_value(label):  # "Total 1,200 2018 2017": a row, not a header
        return None
    return _grouped(" ".join(label), tuple(w.rstrip(",:") for w in words[len(words) - n :]))


def _has_value(words: Sequence[str]) -> bool:
    """Whether a value cell is among ``words`` (the day of "December 31," is not one)."""
    return any(_VALUE.match(w) and not (k and _MONTH.match(words[k - 1])) for k, w in enumerate(words))


def _grouped(label: str, periods: tuple[str, ...]) -> Header | None:
    """The header of ``periods``: distinct ones, or runs of distinct periods side by side, a new
    group where a period repeats ("2018 2017 2016 2018 2017": groups of 3 and 2); None when
    there are too few or too many."""
    runs: list[list[str]] = []
    for p in periods:
        if not runs or p in runs[-1]:
            runs.append([])
        runs[-1].append(p)
    if len(runs) <= 1:
        return Header(label, periods) if MIN_COLUMNS <= len(periods) <= MAX_COLUMNS else None
    if len(runs) > MAX_GROUPS or any(len(r) > MAX_COLUMNS for r in runs):
        return None
    return Header(label, periods, tuple(len(r) for r in runs))


def _tokens(line: str) -> list[str]:
    """Words with a detached currency sign and percent sign joined to their number."""
    out: list[str] = []
    for word in line.split():
        if out and out[-1] in _CURRENCY:
            word = out.pop() + word
        if word in {"%", ")%", "%)"} and out and _VALUE.match(out[-1].rstrip("%)")):
            out[-1] += word
            continue
        out.append(word)
    return out


def split_rows(line: str, width: int) -> list[tuple[str, tuple[str, ...]]] | None:
    """``line`` as (label, values) rows of ``width`` values each, or None when it is not row text.

    A label may hold a number ("Note 4 ...", "Plan 2019"): a run of values longer than ``width``
    gives its leading extra to the label; a shorter run inside the text is label text.
    """
    words = _tokens(line)
    rows: list[tuple[str, tuple[str, ...]]] = []
    label: list[str] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and _VALUE.match(words[j]):
            j += 1
        run = j - i
        if run == 0:
            label.append(words[i])
            i += 1
            continue
        if run < width:
            if j == len(words):  # the line ends short of a row's values
                return None
            label.extend(words[i:j])
            i = j
            continue
        extra = run - width
        label.extend(words[i : i + extra])
        if not rows and not label and j == len(words):  # values alone: the label is the line above
            return [("", tuple(words[i + extra : j]))]
        if not label or not any(c.isalpha() for w in label for c in w):
            return None
        rows.append((" ".join(label), tuple(words[i + extra : j])))
        label = []
        i = j
    return rows if rows and not label else None


def _is_section(line: str) -> bool:
    """A line without values that may name the rows under it (or start a wrapped label)."""
    words = line.split()
    return (
        0 < len(words) <= MAX_SECTION_WORDS
        and not line.rstrip().endswith(".")  # a sentence: prose under the table
        and not _has_value(words)
        and any(c.isalpha() for c in line)
    )


def render_row(section: str, label: str, header: Header, values: Sequence[str]) -> str:
    """``"Section: Label | 2018: (1,577) | 2017: ..."``; a nil value ("—") is shown as given."""
    first = f"{section.rstrip(':')}: {label}" if section else label  # "Revenue from ...:" ends in one
    cells = [f"{period}: {value}" for period, value in zip(header.periods, values, strict=True)]
    return CELL_SEPARATOR.join([first, *cells])


class _Sections:
    """The section names open above the current row: a "Total ..." row closes the innermost."""

    def __init__(self) -> None:
        self.open: list[str] = []
        self.pending: list[str] = []  # lines without values since the last row

    def note(self, line: str) -> None:
        if self.pending and line[:1].islower():  # a wrapped section name
            self.pending[-1] += " " + line
        else:
            self.pending.append(line)

    def key_for(self, label: str) -> tuple[str, str]:
        """(section, label) for a row; a lower-case label continues the line above it."""
        if self.pending and (not label or label[:1].islower()):
            label = (self.pending.pop() + " " + label).strip()
        self.open.extend(self.pending)
        self.pending = []
        section = self.open[-1] if self.open else ""
        if label.lower().startswith("total") and self.open:
            self.open.pop()
        return section, label


_Row = tuple[str, str, tuple[str, ...]]  # (section, label, values)


def _read_rows(lines: Sequence[str], start: int, header: Header) -> tuple[list[_Row], int]:
    """The rows under the header at ``lines[start]`` (fewer than ``MIN_ROWS``: no table), and the
    index of the first line after them."""
    rows: list[_Row] = []
    sections = _Sections()
    i = start + 1
    end = i  # one past the last row line: trailing lines without values stay text
    while i < len(lines) and len(sections.pending) <= MAX_GAP_LINES:
        line = " ".join(lines[i].split())
        if not line:
            i += 1
            continue
        if parse_header(line) is not None:
            break
        parsed = split_rows(line, len(header.periods))
        if parsed is not None:
            for label, values in parsed:
                section, label = sections.key_for(label)
                if label:
                    rows.append((section, label, values))
            end = i + 1
        elif _is_section(line):
            sections.note(line)
        else:
            break
        i += 1
    if len(rows) < MIN_ROWS:
        return [], start + 1
    return rows, end


def _tables(header: Header, rows: Sequence[_Row], title: tuple[str, ...],
            group_titles: Sequence[str]) -> Iterator[TextTable]:
    """One table a group: its slice of each row's values, its title last in the heading path and
    first in each row's key (a value means nothing without its measure: "Capital Expenditures:
    Safety and Graphics | 2018: 210")."""
    for g in range(max(1, len(header.groups))):
        a, b = header.group(g)
        one = Header(header.label, header.periods[a:b])
        measure = group_titles[g] if header.groups else ""
        rendered = tuple(render_row(_joined(measure, s), label, one, values[a:b]) for s, label, values in rows)
        yield TextTable(one, rendered, (*title, group_titles[g]) if header.groups else title)


def _joined(measure: str, section: str) -> str:
    return f"{measure}: {section}" if measure and section else measure or section


def _word_titles(title_line: str, groups: int) -> tuple[str, ...] | None:
    words = title_line.split()
    return tuple(words) if len(words) == groups else None


def _title(above: Sequence[str]) -> tuple[str, ...]:
    """Up to ``MAX_TITLE_LINES`` short lines without final punctuation ending ``above``."""
    out: list[str] = []
    for line in reversed(above):
        line = " ".join(line.split())
        if not line:
            continue
        if len(out) == MAX_TITLE_LINES or len(line.split()) > MAX_SECTION_WORDS or line.endswith("."):
            break
        out.append(line)
    return tuple(reversed(out))


def _group_titles(header: Header, text: list[str], header_line: str,
                  finder: TitleFinder | None) -> tuple[str, ...] | None:
    """The titles of a grouped header's groups from the last line of ``text``; () for one group."""
    if not header.groups:
        return ()
    line = next((x for x in reversed(text) if x.strip()), None)
    if line is None or not _is_section(line):
        return None
    found = finder(line, header_line, header.groups) if finder else None
    return found or _word_titles(line, len(header.groups))


def split_text_tables(lines: Sequence[str], titles: TitleFinder | None = None) -> Iterator[Segment]:
    """``lines`` as text runs (lists of lines) and the period tables between them, in order;
    ``titles`` places the titles of a header's column groups (see the module's docstring)."""
    text: list[str] = []
    # the title of the table just ended: a grouped table right under it (only its title line
    # between them) continues the same statement
    last_title: tuple[str, ...] = ()
    i = 0
    while i < len(lines):
        header = parse_header(lines[i]) if lines[i].strip() else None
        rows, after = _read_rows(lines, i, header) if header is not None else ([], i + 1)
        # the titles after the rows: placing them may read the page's word boxes
        names = _group_titles(header, text, lines[i], titles) if header is not None and rows else None
        if not rows or header is None or names is None:
            text.append(lines[i])
            i += 1
            continue
        if names:  # the title line names the groups: not text
            while text and not text[-1].strip():
                text.pop()
            text.pop()
        title = _title(text) if any(x.strip() for x in text) or not names else last_title
        if text:
            yield text
        yield from _tables(header, rows, title, names)
        last_title, text = title, []
        i = after
    if text:
        yield text
