"""The document context: each extractor on the text it is written for, the priority of the title
sources, the bound on the line, and the real PDFs (docs_corpus and, when present, FinanceBench)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.boilerplate import normalise_line
from ingest.doc_context import (
    MAX_CONTEXT_CHARS,
    MAX_PART_CHARS,
    DocContext,
    describe_document,
    doc_context_enabled,
    file_words,
    lead_blocks,
    running_lines,
)
from ingest.types import Block, DocumentHints, DocumentMeta

REPO = Path(__file__).resolve().parents[2]
FINANCEBENCH = REPO.parent / "shared" / "datasets" / "financebench" / "pdfs"

# The cover of a 10-Q as PDFium reads it (JPMorgan's: two columns put "Commission file" between
# "ended" and the date).
JPM_COVER = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
Washington, D.C. 20549
FORM 10-Q
Quarterly report pursuant to Section 13 or 15(d) of
the Securities Exchange Act of 1934
For the quarterly period ended Commission file
March 31, 2021 number 1-5805
JPMorgan Chase & Co.
(Exact name of registrant as specified in its charter)
Delaware 13-2624428"""

EIGHT_K_COVER = """FORM 8-K
CURRENT REPORT
Date of Report (Date of earliest event reported): July 1, 2022 (June 30, 2022)
AMCOR PLC
(Exact name of registrant as specified in its charter)"""

RELEASE = """PepsiCo Reports First-Quarter 2023 Results; Raises Full-Year
PURCHASE, N.Y. - April 25, 2023 - PepsiCo, Inc. (NASDAQ: PEP) today reported results for the first quarter."""


def meta(source: str = "filings/ACME_2021_10Q.pdf", **kw: object) -> DocumentMeta:
    return DocumentMeta(doc_id="d", source=source, file_type="pdf", content_hash="h", size_bytes=1,
                        **kw)  # type: ignore[arg-type]


def page(text: str, number: int = 1, **kw: object) -> Block:
    return Block(text=text, kind="text", page=number, **kw)  # type: ignore[arg-type]


# -- SEC cover pages -----------------------------------------------------------------------------
def test_a_10q_cover_gives_issuer_form_and_quarter() -> None:
    ctx = describe_document(meta(), [page(JPM_COVER)])
    assert ctx == DocContext(title=None, issuer="JPMorgan Chase & Co.", form="Form 10-Q",
                             period="quarterly period ended March 31, 2021", file_words="ACME 2021 10Q")
    assert ctx.text() == "JPMorgan Chase & Co. | Form 10-Q | quarterly period ended March 31, 2021 | ACME 2021 10Q"


def test_an_8k_cover_gives_the_report_date() -> None:
    ctx = describe_document(meta("AMCOR_2022_8K_dated-2022-07-01.pdf"), [page(EIGHT_K_COVER)])
    assert (ctx.issuer, ctx.form, ctx.period) == ("AMCOR PLC", "Form 8-K", "report dated July 1, 2022")
    assert ctx.file_words == "AMCOR 2022 8K dated 2022-07-01"


def test_a_cover_whose_registrant_has_no_marker_uses_a_company_line() -> None:
    cover = "FORM 10-K\nFor the fiscal year ended December 31, 2018\nCommission file number 1-3285\n3M COMPANY\n"
    ctx = describe_document(meta("3M_2018_10K.pdf"), [page(cover)])
    assert (ctx.issuer, ctx.period) == ("3M COMPANY", "fiscal year ended December 31, 2018")


def test_a_press_release_names_its_company_in_a_sentence_and_its_date() -> None:
    text = RELEASE + "\nFor more, see our Form 10-Q for the quarter."  # a mention is not the form
    ctx = describe_document(meta("PEPSICO_2023Q1_EARNINGS.pdf"), [page(text)])
    assert (ctx.issuer, ctx.form, ctx.period) == ("PepsiCo, Inc.", None, "April 25, 2023")


def test_a_form_after_a_rule_on_the_cover_line_counts() -> None:
    cover = "Washington, D.C. 20549 ______________________ FORM 10-K\nFor the fiscal year ended December 31, 2020"
    assert describe_document(meta(), [page(cover)]).form == "Form 10-K"


def test_the_cover_may_start_on_the_second_page_and_ends_there() -> None:
    two = describe_document(meta(), [page("FORM 10-K"), page(JPM_COVER.replace("FORM 10-Q", ""), number=2)])
    assert (two.issuer, two.form, two.period) == ("JPMorgan Chase & Co.", "Form 10-K",
                                                  "quarterly period ended March 31, 2021")
    lead, _ = lead_blocks([page("Annual letter"), page("Contents", number=2), page(JPM_COVER, number=3)])
    assert describe_document(meta(), lead).issuer is None  # page 3 is not read


def test_cover_furniture_on_the_registrant_line_is_dropped() -> None:
    cover = ("Commission File Number 001-37622 ______________________ SQUARE, INC.\n"
             "(Exact name of registrant as specified in its charter) ______________________ Delaware")
    assert describe_document(meta(), [page(cover)]).issuer == "SQUARE, INC."
    logo = "Commission File Number 001-02217\n(Exact name of Registrant as specified in its charter)"
    assert describe_document(meta(), [page(logo)]).issuer is None  # the name was an image


# -- title sources, strongest first ------------------------------------------------------------------
HINTS = DocumentHints(title="Metadata Title", running_lines=("Table of Contents", "Kitsune Cloud株式会社 休暇規程 1 / 4"))
HEADING = Block(text="First Heading", kind="heading", heading_path=("First Heading",))


@pytest.mark.parametrize(
    ("sidecar", "hints", "blocks", "title"),
    [
        ("Sidecar Title", HINTS, [HEADING], "Sidecar Title"),
        (None, HINTS, [HEADING], "Metadata Title"),
        (None, DocumentHints(title="0000078003-23-000088", running_lines=HINTS.running_lines), [HEADING],
         "Kitsune Cloud株式会社 休暇規程"),  # an id without letters is no title; "Table of Contents" neither
        (None, DocumentHints(title="Microsoft Word - report.docx"), [HEADING], "First Heading"),
        (None, DocumentHints(running_lines=("PART II", "Item 7.", "Item 8 12")), [HEADING], "First Heading"),
        (None, None, [page("body text")], None),
    ],
)
def test_the_title_comes_from_the_strongest_source(sidecar: str | None, hints: DocumentHints | None,
                                                   blocks: list[Block], title: str | None) -> None:
    first = Block(text=blocks[0].text, kind=blocks[0].kind, page=blocks[0].page,
                  heading_path=blocks[0].heading_path, document=hints)
    assert describe_document(meta(title=sidecar), [first, *blocks[1:]]).title == title


def test_a_running_header_beside_a_sidecar_title_is_kept_and_absorbs_what_it_contains() -> None:
    hints = DocumentHints(running_lines=("Kitsune Cloud株式会社 休暇規程（2026年4月改定） 1 / 4",))
    first = page("休暇規程\n第1条（目的）この規程は、Kitsune Cloud株式会社（以下「会社」という）の", document=hints)
    ctx = describe_document(meta("hr/leave_policy_ja.pdf", title="休暇規程", date="2026-04-01"), [first])
    assert ctx.running == "Kitsune Cloud株式会社 休暇規程（2026年4月改定）"
    assert ctx.issuer == "Kitsune Cloud株式会社"
    # the title and the issuer are inside the running header: said once
    assert ctx.text() == "Kitsune Cloud株式会社 休暇規程（2026年4月改定） | 2026-04-01 | leave policy ja"


def test_a_date_inside_a_sentence_is_content_not_the_period() -> None:
    text = "Super Bowl 50 was an American football game to determine the champion, played on February 7, 2016."
    assert describe_document(meta("000.txt"), [page(text)]).text() == ""
    assert describe_document(meta(), [page("Press release\nMarch 9, 2023\nResults")]).period == "March 9, 2023"


def test_the_sidecar_date_is_the_period_when_the_cover_has_none() -> None:
    ctx = describe_document(meta(date="2026-04-01"), [page("Minutes of the meeting held on May 3, 2026")])
    assert ctx.period == "2026-04-01"


# -- the line ---------------------------------------------------------------------------------------
def test_the_line_is_bounded_whole_parts_first() -> None:
    long = DocContext(title="T" * 300, issuer="Acme Inc.", form="Form 10-K", period="fiscal year ended May 1, 2020",
                      file_words="acme 2020 10k")
    text = long.text()
    assert len(text) <= MAX_CONTEXT_CHARS
    parts = text.split(" | ")
    assert len(parts[0]) <= MAX_PART_CHARS and parts[1:] == ["Acme Inc.", "Form 10-K", "fiscal year ended May 1, 2020",
                                                                 "acme 2020 10k"]
    assert DocContext(title="a" * 50).text(max_chars=10) == ""
    assert len(DocContext(title="x " * 200, issuer="y " * 200).text()) <= MAX_CONTEXT_CHARS


def test_a_part_contained_in_another_is_said_once() -> None:
    ctx = DocContext(title="10-K - 02/07/2019 - 3M Company", issuer="3M COMPANY", form="Form 10-K",
                     file_words="3M 2018 10K")
    assert ctx.text() == "10-K - 02/07/2019 - 3M Company | Form 10-K | 3M 2018 10K"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("3M_2018_10K.pdf", "3M 2018 10K"),
        ("hr/leave_policy_ja.pdf", "leave policy ja"),
        ("FOOTLOCKER_2022_8K_dated_2022-08-19.pdf", "FOOTLOCKER 2022 8K dated 2022-08-19"),
        ("notes.v2.final.md", "notes v2 final"),
        ("README", "README"),
        ("000-Super_Bowl_50/000.txt", ""),  # a number says nothing
    ],
)
def test_file_words(source: str, words: str) -> None:
    assert file_words(source) == words


# -- what the loader hands over -----------------------------------------------------------------------
def test_running_lines_are_reported_as_printed_each_once_in_page_order() -> None:
    pages = [["Acme Inc. | Q1 2023 Form 10-Q | 1", "body"], ["Table of Contents", "Acme Inc. | Q1 2023 Form 10-Q | 2"],
             ["Table of Contents"]]
    keys = frozenset({normalise_line("Acme Inc. | Q9 1999 Form 10-Q | 7"), "table of contents"})
    assert running_lines(pages, keys) == ("Acme Inc. | Q1 2023 Form 10-Q | 1", "Table of Contents")
    assert running_lines(pages, frozenset()) == ()
    assert running_lines(pages, keys, limit=1) == ("Acme Inc. | Q1 2023 Form 10-Q | 1",)


def test_lead_blocks_reads_ahead_the_first_pages_only_and_loses_nothing() -> None:
    read: list[int] = []

    def blocks() -> object:
        for n in range(1, 100):
            read.append(n)
            yield page(f"page {n}", number=n)

    lead, every = lead_blocks(blocks())  # type: ignore[arg-type]
    assert [b.page for b in lead] == [1, 2] and read == [1, 2, 3]  # page 3 is where it stopped
    assert [b.page for b in every] == list(range(1, 100))


def test_the_setting_is_on_or_off() -> None:
    assert doc_context_enabled("on") and not doc_context_enabled("OFF")
    with pytest.raises(ValueError, match=r"Unknown document-context setting 'maybe' \(from \$RAGQA_DOC_CONTEXT\)"):
        doc_context_enabled("maybe")


# -- real PDFs --------------------------------------------------------------------------------------
def real_context(path: Path, source: str, **kw: object) -> DocContext:
    from ingest.loaders import load_blocks

    lead, _ = lead_blocks(load_blocks(path))
    return describe_document(meta(source, **kw), lead)


def test_the_leave_policy_gets_its_running_header_back() -> None:
    ctx = real_context(REPO / "docs_corpus" / "hr" / "leave_policy_ja.pdf", "hr/leave_policy_ja.pdf",
                       title="休暇規程", date="2026-04-01")
    assert ctx.text() == "Kitsune Cloud株式会社 休暇規程（2026年4月改定） | 2026-04-01 | leave policy ja"


@pytest.mark.skipif(not FINANCEBENCH.is_dir(), reason=f"FinanceBench filings not found at {FINANCEBENCH} "
                    "(the shared datasets folder next to the repository)")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("3M_2018_10K", "10-K - 02/07/2019 - 3M Company | Form 10-K | fiscal year ended December 31, 2018 | 3M 2018 10K"),
        ("Pfizer_2023Q2_10Q", "PFIZER INC. | Form 10-Q | quarterly period ended July 2, 2023 | Pfizer 2023Q2 10Q"),
    ],
)
def test_financebench_covers(name: str, expected: str) -> None:
    assert real_context(FINANCEBENCH / f"{name}.pdf", f"{name}.pdf").text() == expected
