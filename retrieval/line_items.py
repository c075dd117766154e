"""Table rows that name a question's line item in the asked period.

"What was 3M's FY2018 capital expenditure?": the answer is the cash-flow statement's row
``Cash Flows from Investing Activities: Purchases of property, plant and equipment (PP&E) | 2018:
(1,577) | 2017: (1,373)``. Neither list finds it first: the embedder ranks prose about capital
spending higher (the row is numbers), and BM25 prefers shorter chunks that repeat the words
(measured: BM25 rank 13, dense beyond 300, hybrid 18 over 3M's two 10-Ks). What marks the row is
its structure: its *label* (the first cell, as the loaders write rows with
``ingest.loaders.tables.CELL_SEPARATOR``: "Label | Header: value")
holds a phrase of the synonym group the question names (:mod:`retrieval.synonyms`), and it has a
cell headed by a year the question asks ("2018", "Fiscal 2018") (:mod:`retrieval.periods`). The hybrid retriever fuses
the candidates holding such a row as one more ranked list (``HybridRetriever(row_weight=...)``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.loaders.tables import CELL_SEPARATOR

from .periods import context_years
from .synonyms import holds_phrase

# a question asking for a line item's value: "What was 3M's FY2018 capex?", "How much ...",
# "いくら", "何円"; not "What drove ...", "Which region ...", "Did ... increase?" (those are answered
# by prose; measured on FinanceBench: BENCHMARKS.md "Real filings, part 3")
_VALUE_EN = re.compile(r"(?i)^\W*(?:what\s+(?:is|was|are|were)\b(?!.*\b(?:drove|driver|caused|reason)\b)|how\s+much\b)")
_VALUE_JA = re.compile(r"いくら|幾ら|何円|何億|何百万|金額は")


def asks_for_value(question: str) -> bool:
    """True when ``question`` asks for an amount ("What was X's FY2018 capital expenditure?")."""
    return bool(_VALUE_EN.search(question) or _VALUE_JA.search(question))


def row_cells(line: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(label, [(header, value), ...]) of a table-row line, or None for any other line."""
    if CELL_SEPARATOR not in line:
        return None
    label, *rest = line.split(CELL_SEPARATOR)
    cells = [tuple(c.split(": ", 1)) for c in rest if ": " in c]
    if not cells:
        return None
    return label.strip(), [(h.strip(), v.strip()) for h, v in cells]


def names_line_item(line: str, phrases: Sequence[str], years: frozenset[str]) -> bool:
    """True when ``line`` is a table row whose label holds one of ``phrases`` and which has a
    cell of one of ``years`` (any cell holding a digit when ``years`` is empty)."""
    parsed = row_cells(line)
    if parsed is None or not phrases:
        return False
    label, cells = parsed
    if not holds_phrase(label, phrases):
        return False
    if years:
        return any(not years.isdisjoint(context_years(h)) for h, _ in cells)
    return any(any(ch.isdigit() for ch in v) for _, v in cells)


def line_item_candidates(texts: Sequence[str], phrases: Sequence[str], years: frozenset[str]) -> list[int]:
    """Indexes of ``texts`` (chunk texts, best candidate first) holding a row that names one of
    ``phrases`` in ``years`` (:func:`names_line_item`)."""
    if not phrases:
        return []
    return [i for i, t in enumerate(texts)
            if any(names_line_item(line, phrases, years) for line in t.splitlines())]


__all__ = ["asks_for_value", "line_item_candidates", "names_line_item", "row_cells"]
