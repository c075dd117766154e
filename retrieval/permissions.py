"""Callers' groups, filters from CLI values, and the final check of every returned chunk.

The rule itself (who may see a chunk, which chunks pass the filters) is ``VisibilityRule`` in
``retrieval.visibility``; the functions here are its entry points for callers. It is applied
inside every backend (Chroma ``where``, the row mask) *and* checked again on every returned chunk
(``to_hits``), so a bug in one layer cannot leak a restricted chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ingest.store import date_to_int
from ingest.types import Chunk

from .types import ALL_GROUPS, PUBLIC_GROUP, Filters, Hit
from .visibility import VisibilityRule, filter_conditions, group_condition, shares_group

_GROUP_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def normalise_groups(groups: Iterable[str] | None) -> tuple[str, ...]:
    """The effective groups of a caller: theirs plus "public"; ("*",) stays the wildcard."""
    gs = [g.strip() for g in (groups or ()) if g and g.strip()]
    if "*" in gs:
        return ALL_GROUPS
    for g in gs:
        if not _GROUP_RE.match(g):
            raise ValueError(f"invalid group name {g!r}: use letters, digits, '_', '.', '-'")
    return tuple(sorted(set(gs) | {PUBLIC_GROUP}))


def is_visible(chunk_groups: Sequence[str], user_groups: Sequence[str]) -> bool:
    """The group half of ``VisibilityRule``: the chunk shares a group with the caller."""
    cond = group_condition(user_groups)
    return cond is None or shares_group(chunk_groups, cond)


def matches_filters(chunk: Chunk, f: Filters | None) -> bool:
    """The filter half of ``VisibilityRule``: the chunk passes every filter set."""
    return VisibilityRule(filter_conditions(f)).allows(chunk)


def to_hits(found: Sequence[tuple[str, float]], chunks: Mapping[str, Chunk], user_groups: Sequence[str],
            f: Filters | None, retriever: str) -> list[Hit]:
    """Backend results ``(chunk id, score)`` -> ranked ``Hit``s, re-checking every chunk against the
    caller's groups and the filters (the final guard), and dropping ids the catalog does not know
    (a vector orphaned by a crash: the catalog is the truth)."""
    rule = VisibilityRule.of(user_groups, f)
    hits: list[Hit] = []
    for cid, score in found:
        c = chunks.get(cid)
        if c is None or not rule.allows(c):
            continue
        hits.append(Hit(chunk=c, score=score, retriever=retriever, rank=len(hits) + 1,
                        details={f"{retriever}_score": score}, **signal_fields(retriever, score)))
    return hits


def signal_fields(retriever: str, score: float) -> dict[str, float]:
    """The typed relevance field of a ``Hit`` that a base retriever's score fills: a dense list's
    cosine is ``dense_score``, BM25's score ``bm25_score``; anything else fills neither."""
    if retriever.startswith("dense"):
        return {"dense_score": score}
    if retriever == "bm25":
        return {"bm25_score": score}
    return {}


def chroma_where(user_groups: Sequence[str], f: Filters | None) -> dict[str, Any] | None:
    """The Chroma ``where`` for these groups and filters (None: no condition)."""
    return VisibilityRule.of(user_groups, f).chroma_where()


def parse_filters(source: str | None = None, file_types: str | Sequence[str] | None = None,
                  langs: str | Sequence[str] | None = None, date_from: str | None = None,
                  date_to: str | None = None) -> Filters:
    """Build ``Filters`` from CLI-style values ("pdf,docx"), validating dates."""

    def split(v: str | Sequence[str] | None) -> tuple[str, ...]:
        if v is None:
            return ()
        items = v.split(",") if isinstance(v, str) else list(v)
        return tuple(x.strip().lstrip(".").lower() for x in items if x.strip())

    for name, d in (("date_from", date_from), ("date_to", date_to)):
        if d and date_to_int(d) is None:
            raise ValueError(f"invalid {name} {d!r}: use an ISO date like 2026-04-01")
    return Filters(source_prefix=source or None, file_types=split(file_types), langs=split(langs),
                   date_from=date_from, date_to=date_to)
