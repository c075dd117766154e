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


def context_years(doc_context: str) -> frozenset[str]:
    """The four-digit years a document context line names."""
    return frozenset(m.group(1) for m in _YEAR.finditer(doc_context))


def of_period(doc_context: str, years: frozenset[str]) -> bool:
    """True when the document context names one of ``years`` (False for an empty context)."""
    return bool(years) and not years.isdisjoint(context_years(doc_context))


class _Dated(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def doc_context(self) -> str: ...


def missing_period(question: str, chunks: Sequence[_Dated]) -> frozenset[str]:
    """The years ``question`` asks about when no chunk's document context or text names one of
    them while some chunk's context names a period (the documents are dated, and none of these is
    of the asked period); else empty. For the answer side's gate: measured on FinanceBench near
    misses (BENCHMARKS.md "Refusal on real filings")."""
    years = question_years(question)
    if not years or not any(context_years(c.doc_context) for c in chunks):
        return frozenset()
    for c in chunks:
        if of_period(c.doc_context, years) or not years.isdisjoint(context_years(c.text)):
            return frozenset()
    return years


__all__ = ["context_years", "missing_period", "of_period", "question_years"]
