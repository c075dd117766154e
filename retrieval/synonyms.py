"""Synonym groups: the words of a question and the words of the documents for the same thing.

A filing never writes "capital expenditure": its cash-flow statement says "Purchases of property,
plant and equipment". BM25 cannot match the two, and a small embedder barely does (measured on
FinanceBench, BENCHMARKS.md "Real filings"). A synonym group lists phrases that name one thing;
a query that holds one phrase of a group is searched with the group's other phrases added
(:func:`expand_query`), and the answer side counts a chunk holding any phrase of the group as
support for the question's phrase.

Groups come from a built-in set (``"finance"``: financial-statement line items in English and
Japanese) or from the user's own file: JSON ``{"groups": [["PTO", "年次有給休暇", "paid leave"],
...]}``. Matching is case-insensitive, on word boundaries for Latin text and as a substring for
Japanese; ``&`` and ``-`` inside a phrase match themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

BUILTIN = ("finance",)
OFF = ("", "none", "off")

FINANCE: tuple[tuple[str, ...], ...] = (
    ("capital expenditure", "capital expenditures", "capex", "capital spending",
     "purchases of property, plant and equipment", "purchases of property and equipment",
     "payments for property, plant and equipment", "additions to property, plant and equipment",
     "設備投資", "有形固定資産の取得による支出"),
    ("free cash flow", "net cash provided by operating activities", "purchases of property, plant and equipment"),
    ("operating cash flow", "cash from operations", "cash flow from operations",
     "net cash provided by operating activities", "営業活動によるキャッシュ・フロー"),
    ("revenue", "revenues", "net sales", "total revenues", "net revenues", "total net sales", "topline", "top line",
     "top-line", "売上高", "営業収益"),
    ("cost of goods sold", "cogs", "cost of sales", "cost of revenue", "cost of revenues",
     "cost of products sold", "売上原価"),
    ("operating income", "operating profit", "income from operations", "operating earnings", "営業利益"),
    ("net income", "net earnings", "net profit", "当期純利益"),
    ("d&a", "depreciation and amortization", "depreciation, depletion and amortization", "減価償却費"),
    ("ebitda", "operating income", "depreciation and amortization"),
    ("ebit", "earnings before interest and taxes", "operating income"),
    ("dividends", "dividends paid", "cash dividends", "配当金"),
    ("share repurchases", "buybacks", "share buybacks", "stock repurchases", "purchases of treasury stock",
     "repurchases of common stock", "自己株式の取得"),
    ("inventory", "inventories", "棚卸資産"),
    ("accounts receivable", "receivables", "trade receivables", "売掛金"),
    ("accounts payable", "trade payables", "買掛金"),
    ("gross margin", "gross profit", "売上総利益"),
    ("sg&a", "selling, general and administrative", "販売費及び一般管理費"),
    ("r&d", "research and development", "研究開発費"),
    ("eps", "earnings per share", "1株当たり当期純利益"),
    ("effective tax rate", "provision for income taxes", "income tax expense"),
    ("pp&e", "property, plant and equipment", "有形固定資産"),
    ("working capital", "total current assets", "total current liabilities"),
    ("total debt", "long-term debt", "short-term borrowings"),
)  # fmt: skip


@lru_cache(maxsize=4096)
def _pattern(phrase: str) -> re.Pattern[str]:
    body = re.escape(phrase.lower())
    if phrase.isascii():
        return re.compile(rf"(?<![\w&]){body}(?![\w&])")
    return re.compile(body)


@dataclass(frozen=True)
class Synonyms:
    """Named synonym groups; ``groups`` empty means no expansion."""

    name: str
    groups: tuple[tuple[str, ...], ...] = ()

    @cached_property
    def _compiled(self) -> tuple[tuple[tuple[str, re.Pattern[str]], ...], ...]:
        return tuple(tuple((p, _pattern(p)) for p in group) for group in self.groups)

    def matched_groups(self, text: str) -> list[tuple[str, ...]]:
        """The groups one of whose phrases occurs in ``text``."""
        low = text.lower()
        return [tuple(p for p, _ in g) for g in self._compiled if any(rx.search(low) for _, rx in g)]

    def expansions(self, text: str) -> list[str]:
        """Phrases of the groups matched in ``text`` that ``text`` does not hold, in group order."""
        low = text.lower()
        out: dict[str, None] = {}
        for group in self._compiled:
            if any(rx.search(low) for _, rx in group):
                out.update((p, None) for p, rx in group if not rx.search(low))
        return list(out)

    def holds_any(self, text: str, group: tuple[str, ...]) -> bool:
        """True when ``text`` holds a phrase of ``group``."""
        return holds_phrase(text, group)


def holds_phrase(text: str, phrases: Sequence[str]) -> bool:
    """True when ``text`` holds one of ``phrases`` by the groups' matching rule (case-blind; word
    boundaries for Latin text, a substring for Japanese)."""
    low = text.lower()
    return any(_pattern(p).search(low) for p in phrases)


NO_SYNONYMS = Synonyms("off")


def expand_query(query: str, synonyms: Synonyms) -> str:
    """``query`` with the synonyms of its phrases appended (the query itself when none match)."""
    extra = synonyms.expansions(query)
    return f"{query} {' ; '.join(extra)}" if extra else query


def load_synonyms(spec: str | None) -> Synonyms:
    """``"finance"`` (built in), ``"off"`` / ``""`` / None, or the path of a JSON groups file."""
    if spec is None or spec.strip().lower() in OFF:
        return NO_SYNONYMS
    if spec == "finance":
        return Synonyms("finance", FINANCE)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ValueError(
            f"synonyms={spec!r} is neither a built-in set ({', '.join(BUILTIN)}), 'off', nor a file; "
            'give a JSON file like {"groups": [["capex", "purchases of property, plant and equipment"]]}'
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"synonyms file {path}: cannot read it as JSON ({e})") from e
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and len(g) >= 2 and all(isinstance(p, str) and p.strip() for p in g) for g in groups
    ):
        raise ValueError(
            f"synonyms file {path}: expected {{\"groups\": [[phrase, phrase, ...], ...]}} with at least "
            "two non-empty phrases per group"
        )
    return Synonyms(str(path), tuple(tuple(p.strip() for p in g) for g in groups))


__all__ = ["BUILTIN", "FINANCE", "NO_SYNONYMS", "Synonyms", "expand_query", "holds_phrase", "load_synonyms"]
