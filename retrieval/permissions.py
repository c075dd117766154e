"""Who may see which chunk, and the same rule expressed for each backend.

The rule: a chunk is visible to a user when the chunk's groups and the user's groups (plus
"public") share at least one name. ``("*",)`` is the admin wildcard. The rule is applied inside
every backend (Chroma ``where``, the BM25 row mask) *and* checked again on every returned chunk,
so a bug in one layer cannot leak a restricted chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ingest.store import date_to_int
from ingest.types import Chunk

from .types import ALL_GROUPS, PUBLIC_GROUP, Filters, Hit

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
    if tuple(user_groups) == ALL_GROUPS:
        return True
    return bool(set(chunk_groups) & set(user_groups))


def matches_filters(chunk: Chunk, f: Filters | None) -> bool:
    if f is None or f.is_empty():
        return True
    if f.source_prefix and not _prefix_match(chunk.source, f.source_prefix):
        return False
    if f.file_types and chunk.file_type not in f.file_types:
        return False
    if f.langs and chunk.lang not in f.langs:
        return False
    if f.date_from or f.date_to:
        d = date_to_int(chunk.date)
        if d is None:
            return False
        if f.date_from and d < (date_to_int(f.date_from) or 0):
            return False
        if f.date_to and d > (date_to_int(f.date_to) or 99999999):
            return False
    return True


def to_hits(found: Sequence[tuple[str, float]], chunks: Mapping[str, Chunk], user_groups: Sequence[str],
            f: Filters | None, retriever: str) -> list[Hit]:
    """Backend results ``(chunk id, score)`` -> ranked ``Hit``s, re-checking every chunk against the
    caller's groups and the filters (the final guard), and dropping ids the catalog does not know
    (a vector orphaned by a crash: the catalog is the truth)."""
    hits: list[Hit] = []
    for cid, score in found:
        c = chunks.get(cid)
        if c is None or not is_visible(c.groups, user_groups) or not matches_filters(c, f):
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


def _prefix_match(source: str, prefix: str) -> bool:
    p = prefix.strip("/")
    return source == p or source.startswith(p + "/")


def chroma_where(user_groups: Sequence[str], f: Filters | None) -> dict[str, Any] | None:
    """The Chroma ``where`` clause for these groups and filters (None: no condition)."""
    conds: list[dict[str, Any]] = []
    if tuple(user_groups) != ALL_GROUPS:
        ors = [{"groups": {"$contains": g}} for g in user_groups]
        conds.append(ors[0] if len(ors) == 1 else {"$or": ors})
    if f is not None and not f.is_empty():
        if f.source_prefix:
            p = f.source_prefix.strip("/")
            conds.append({"$or": [{"paths": {"$contains": p}}, {"paths": {"$contains": p + "/"}}]})
        if f.file_types:
            conds.append({"file_type": {"$in": list(f.file_types)}})
        if f.langs:
            conds.append({"lang": {"$in": list(f.langs)}})
        if f.date_from:
            conds.append({"date": {"$gte": date_to_int(f.date_from)}})
        if f.date_to:
            conds.append({"date": {"$lte": date_to_int(f.date_to)}})
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


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
