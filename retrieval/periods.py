"""The years a question asks about, and whether a chunk's document is of that period.

"What was 3M's FY2018 capital expenditure?" over 3M's 2018 and 2022 10-Ks: both filings have a
capital-expenditure line, and only the document's period tells them apart. The period lives in
each chunk's document context (:mod:`ingest.doc_context`: "3M Company | Form 10-K | fiscal year
ended December 31, 2018 | 3M 2018 10K"), so a chunk's document is *of* a question's period when
its context names one of the asked years. The hybrid retriever fuses the candidates whose
document is of the period as one more ranked list (``HybridRetriever(period_weight=...)``).

Fiscal years that end early in the next calendar year (retailers: "fiscal 2022" ended January
28, 2023) name both years in their context, so they match either way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

# 2018, FY2018, FY18, FY 2018, Q2 2023, Q22023, 2023Q2, fiscal 2018; not 12,018 or 20185
_YEAR = re.compile(r"(?<![\d,.])((?:19|20)\d{2})(?![\d,])")
_SHORT_FY = re.compile(r"(?i)\b(?:FY|CY)\s?'?(\d{2})\b")


def question_years(question: str) -> frozenset[str]:
    """The four-digit years ``question`` names, short fiscal years ("FY23") widened to 2023."""
    years = {m.group(1) for m in _YEAR.finditer(question)}
    years.update("20" + m.group(1) for m in _SHORT_FY.finditer(question))
    return frozenset(years)


# a reporting period, as filings name theirs: "fiscal year ended December 31, 2018", "quarterly
# period ended July 2, 2023", "Fourth Quarter Fiscal 2022", "FY2023"; not a document's own date
# ("2025-12-01", "report dated July 1, 2022"), which says when it was written, not what it covers
_REPORTING_PERIOD = re.compile(
    r"(?i)\b(?:(?:year|period|quarter|months|weeks)\s+ended\s+(?:[A-Z][a-z]+\.?\s+\d{1,2},?\s+)?"
    r"|fiscal\s+(?:year\s+)?|FY\s?)((?:19|20)\d{2})\b")


def context_years(text: str) -> frozenset[str]:
    """The four-digit years ``text`` names."""
    return frozenset(m.group(1) for m in _YEAR.finditer(text))


def period_years(doc_context: str) -> frozenset[str]:
    """The years of the reporting periods a document context line names (empty for a document
    that names none, as most documents other than financial reports)."""
    return frozenset(m.group(1) for m in _REPORTING_PERIOD.finditer(doc_context))


def of_period(doc_context: str, years: frozenset[str]) -> bool:
    """True when the document context names one of ``years`` (its period, its date, its file name)."""
    return bool(years) and not years.isdisjoint(context_years(doc_context))


def period_candidates(contexts: Sequence[str], years: frozenset[str]) -> list[int]:
    """Indexes of ``contexts`` (document context lines, best candidate first) of the asked
    ``years``, when the candidates are reports (one of them names a reporting period); else none.

    Among reports, a filing's year is its period (and an 8-K's or a release's date is close to
    it); among other documents a year in a context is a date or a file name ("holiday calendar
    2026") that says little about what the question asks (measured on docs_corpus/qa.jsonl)."""
    if not years or not any(period_years(c) for c in contexts):
        return []
    return [i for i, c in enumerate(contexts) if of_period(c, years)]


class _Dated(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def doc_context(self) -> str: ...


def missing_period(question: str, chunks: Sequence[_Dated]) -> frozenset[str]:
    """The years ``question`` asks about when no chunk's document context or text names one of
    them while some chunk's context names a reporting period (the documents are reports, and none
    of these covers or mentions the asked years); else empty. For the answer side's gate: measured on FinanceBench near
    misses (BENCHMARKS.md "Refusal on real filings")."""
    years = question_years(question)
    if not years or not any(period_years(c.doc_context) for c in chunks):
        return frozenset()
    for c in chunks:
        if not years.isdisjoint(context_years(f"{c.doc_context}\n{c.text}")):
            return frozenset()
    return years


__all__ = ["context_years", "missing_period", "of_period", "period_candidates", "period_years", "question_years"]
