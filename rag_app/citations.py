"""``[n]`` citation markers in generated answers: parsing, validation, resolution to chunks.

Accepted forms: ``[1]``, ``[1, 2]``, ``[1,2]``, ``[1][2]``, ``[1-3]`` (also ``–``/``〜`` ranges),
full-width ``［１］``, ``［１，２］``, and lenticular ``【1】``. Numbers of 4+ digits
(``[2024]``) are left alone: they are years or codes, not block numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rag_app.types import Citation
from retrieval.types import Hit

_NUM = r"[0-9０-９]{1,3}"
_SEP = r"\s*(?:[,，、;；]|and)\s*"
_RANGE = r"\s*[-‐‑–—〜~～ー－]\s*"
_ITEM = rf"{_NUM}(?:{_RANGE}{_NUM})?"
MARKER_RE = re.compile(rf"[\[［【]\s*({_ITEM}(?:{_SEP}{_ITEM})*)\s*[\]］】]")
# The same, with the blanks before it: a removed marker takes its leading space along.
_SPACED_MARKER_RE = re.compile(r"([ \t]*)" + MARKER_RE.pattern)
_MAX_RANGE = 50  # a wider range ([1-999]) is not a citation a model meant: treat as invalid


@dataclass(frozen=True, slots=True)
class CitationParse:
    """``valid``: cited block numbers in 1..n_contexts, in order of first appearance.
    ``invalid``: out-of-range references (each bad number once per marker; a bad range once).
    ``text``: the answer with invalid references removed (partially valid markers rewritten
    to their valid numbers, e.g. ``[2, 9]`` -> ``[2]`` when there are 3 blocks)."""

    valid: tuple[int, ...]
    invalid: int
    text: str

    @property
    def cited(self) -> bool:
        return bool(self.valid)


def _numbers(body: str) -> list[tuple[int, int]]:
    """Body of a marker (NFKC-normalised) -> inclusive (low, high) items."""
    items = []
    for part in re.split(_SEP, body):
        bounds = [int(x) for x in re.split(_RANGE, part.strip()) if x]
        lo, hi = min(bounds), max(bounds)
        items.append((lo, hi))
    return items


def parse_citations(text: str, n_contexts: int) -> CitationParse:
    """Find every citation marker in ``text`` and check it against ``n_contexts`` blocks."""
    if n_contexts < 0:
        raise ValueError(f"n_contexts={n_contexts} must be >= 0")
    valid: list[int] = []
    seen: set[int] = set()
    invalid = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal invalid
        body = unicodedata.normalize("NFKC", m.group(2))
        kept: list[int] = []
        bad = False
        for lo, hi in _numbers(body):
            if hi - lo + 1 > _MAX_RANGE:
                invalid += 1
                bad = True
                continue
            out_of_range = [k for k in range(lo, hi + 1) if not 1 <= k <= n_contexts]
            if out_of_range:
                invalid += 1 if hi > lo else len(out_of_range)
                bad = True
            kept.extend(k for k in range(lo, hi + 1) if 1 <= k <= n_contexts)
        for k in kept:
            if k not in seen:
                seen.add(k)
                valid.append(k)
        if not bad:
            return m.group(0)
        if not kept:
            return ""
        return m.group(1) + "[" + ", ".join(str(k) for k in dict.fromkeys(kept)) + "]"

    cleaned = _SPACED_MARKER_RE.sub(replace, text)
    if invalid:
        cleaned = cleaned.strip()
    return CitationParse(valid=tuple(valid), invalid=invalid, text=cleaned)


def resolve_citations(parse: CitationParse, hits: Sequence[Hit]) -> tuple[Citation, ...]:
    """One :class:`Citation` per valid number; block ``n`` is ``hits[n - 1]``."""
    out = []
    for n in parse.valid:
        if not 1 <= n <= len(hits):
            raise ValueError(
                f"citation [{n}] has no context block: {len(hits)} hits given; parse the answer "
                "with parse_citations(text, n_contexts=len(hits)) using the same hits"
            )
        chunk = hits[n - 1].chunk
        out.append(
            Citation(n=n, chunk_id=chunk.id, source=chunk.source, page=chunk.page, heading=chunk.heading,
                     document=chunk.doc_context)
        )
    return tuple(out)


def strip_citations(text: str) -> str:
    """``text`` without any citation markers (for display or comparison)."""
    return _SPACED_MARKER_RE.sub("", text).strip()
