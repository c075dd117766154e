"""Which chunks a caller may see: one rule, compiled into the form each store evaluates.

The rule: a caller sees a chunk when the chunk shares a group with the caller's groups (which
always include "public"; ``ALL_GROUPS`` sees every chunk) and the chunk passes every filter set in
``Filters``. ``VisibilityRule.of(groups, filters)`` writes that rule down once, as a conjunction
of ``Condition``s, and every store-specific form is compiled from those conditions:

- ``allows(rule, chunk)``: the Python predicate over a catalog ``Chunk``: the final guard on
  every returned hit;
- ``chroma_where(rule)``: Chroma's ``where`` over the metadata ``ingest.store.chunk_metadata``
  writes (``groups`` and ``paths`` lists, ``file_type``, ``lang``, ``date`` as YYYYMMDD, absent
  when unknown);
- ``row_mask(rule, rows)``: a numpy bool mask over ``RowMeta`` (the BM25 rows, which the vector
  matrix shares).

A new kind of condition is one more dataclass and one more case in each compiler (each ends in
``assert_never``, so mypy names a compiler that misses it); tests/retrieval/test_visibility.py
checks that the three forms agree on random chunks, groups and filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, assert_never

import numpy as np
import numpy.typing as npt

from ingest.store import date_to_int
from ingest.types import Chunk

from .rows import UNDATED, RowMeta
from .types import ALL_GROUPS, Filters


@dataclass(frozen=True, slots=True)
class SharesGroup:
    """The chunk holds at least one of ``groups``."""

    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnderSource:
    """The chunk's source path is ``prefix`` or lies below the directory ``prefix`` ("a/c" holds
    "a/c/x.md", not "a/cd.md"); ``prefix`` carries no leading or trailing "/"."""

    prefix: str


@dataclass(frozen=True, slots=True)
class OneOf:
    """The chunk's ``field`` is one of ``values``."""

    field: Literal["file_type", "lang"]
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DatedWithin:
    """The chunk has a known date and ``lo <= date <= hi`` (YYYYMMDD ints, inclusive; None: open)."""

    lo: int | None
    hi: int | None


Condition = SharesGroup | UnderSource | OneOf | DatedWithin


def group_condition(user_groups: Sequence[str]) -> SharesGroup | None:
    """The condition the caller's (normalised) groups set; None for ``ALL_GROUPS`` (admin)."""
    ug = tuple(user_groups)
    return None if ug == ALL_GROUPS else SharesGroup(ug)


def filter_conditions(f: Filters | None) -> tuple[Condition, ...]:
    """The conditions the filters set, in the order the stores evaluate them cheapest first."""
    if f is None or f.is_empty():
        return ()
    conds: list[Condition] = []
    if f.source_prefix:
        conds.append(UnderSource(f.source_prefix.strip("/")))
    if f.file_types:
        conds.append(OneOf("file_type", tuple(f.file_types)))
    if f.langs:
        conds.append(OneOf("lang", tuple(f.langs)))
    if f.date_from or f.date_to:
        conds.append(DatedWithin(_date_bound("date_from", f.date_from), _date_bound("date_to", f.date_to)))
    return tuple(conds)


def _date_bound(name: str, value: str | None) -> int | None:
    if not value:
        return None
    d = date_to_int(value)
    if d is None:
        raise ValueError(f"invalid {name} {value!r} in Filters: use an ISO date like 2026-04-01")
    return d


@dataclass(frozen=True, slots=True)
class VisibilityRule:
    """What one caller may see, as conditions that must all hold (``()``: every chunk)."""

    conditions: tuple[Condition, ...]

    @classmethod
    def of(cls, user_groups: Sequence[str], filters: Filters | None = None) -> VisibilityRule:
        """The rule for a caller with these (normalised: ``normalise_groups``) groups."""
        groups = group_condition(user_groups)
        return cls(((groups,) if groups is not None else ()) + filter_conditions(filters))

    def allows(self, chunk: Chunk) -> bool:
        return allows(self, chunk)

    def chroma_where(self) -> dict[str, Any] | None:
        return chroma_where(self)

    def row_mask(self, rows: RowMeta) -> npt.NDArray[np.bool_] | None:
        return row_mask(self, rows)


# -- the Python predicate ----------------------------------------------------------------------
def shares_group(chunk_groups: Sequence[str], cond: SharesGroup) -> bool:
    return not set(chunk_groups).isdisjoint(cond.groups)


def under_source(source: str, cond: UnderSource) -> bool:
    return source == cond.prefix or source.startswith(cond.prefix + "/")


def holds(cond: Condition, chunk: Chunk) -> bool:
    match cond:
        case SharesGroup():
            return shares_group(chunk.groups, cond)
        case UnderSource():
            return under_source(chunk.source, cond)
        case OneOf():
            return (chunk.file_type if cond.field == "file_type" else chunk.lang) in cond.values
        case DatedWithin():
            d = date_to_int(chunk.date)
            return d is not None and (cond.lo is None or d >= cond.lo) and (cond.hi is None or d <= cond.hi)
        case _:
            assert_never(cond)


def allows(rule: VisibilityRule, chunk: Chunk) -> bool:
    return all(holds(c, chunk) for c in rule.conditions)


# -- Chroma's where --------------------------------------------------------------------------------
def where_of(cond: Condition) -> list[dict[str, Any]]:
    """The ``where`` clauses (ANDed) of one condition."""
    match cond:
        case SharesGroup():
            if not cond.groups:
                raise ValueError("a caller with no groups sees nothing, which Chroma's where cannot state: "
                                 "pass the groups through normalise_groups, which adds 'public'")
            ors = [{"groups": {"$contains": g}} for g in cond.groups]
            return [ors[0] if len(ors) == 1 else {"$or": ors}]
        case UnderSource():
            # ``paths`` lists the source and each of its directories with a trailing "/"
            # (ingest.store.path_prefixes): Chroma has no string-prefix operator
            p = cond.prefix
            return [{"$or": [{"paths": {"$contains": p}}, {"paths": {"$contains": p + "/"}}]}]
        case OneOf():
            return [{cond.field: {"$in": list(cond.values)}}]
        case DatedWithin():
            # ``date`` is absent from the metadata of an undated chunk, and a comparison with an
            # absent key does not match, so an undated chunk never passes
            bounds = (("$gte", cond.lo), ("$lte", cond.hi))
            return [{"date": {op: v}} for op, v in bounds if v is not None]
        case _:
            assert_never(cond)


def chroma_where(rule: VisibilityRule) -> dict[str, Any] | None:
    """The Chroma ``where`` of ``rule`` (None: no condition)."""
    clauses = [w for c in rule.conditions for w in where_of(c)]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


# -- the numpy row mask ------------------------------------------------------------------------------
def mask_of(cond: Condition, rows: RowMeta) -> npt.NDArray[np.bool_]:
    """bool [n]: the rows (``rows.ids`` order) for which ``cond`` holds."""
    n = len(rows.ids)
    match cond:
        case SharesGroup():
            m = np.zeros(n, dtype=np.bool_)
            for g in cond.groups:
                if g in rows.group_rows:
                    m |= rows.group_rows[g]
            return m
        case UnderSource():
            return np.fromiter((under_source(s, cond) for s in rows.source), dtype=np.bool_, count=n)
        case OneOf():
            column = rows.file_type if cond.field == "file_type" else rows.lang
            return np.isin(column, list(cond.values))
        case DatedWithin():
            m = rows.date != UNDATED
            if cond.lo is not None:
                m &= rows.date >= cond.lo
            if cond.hi is not None:
                m &= rows.date <= cond.hi
            return m
        case _:
            assert_never(cond)


def row_mask(rule: VisibilityRule, rows: RowMeta) -> npt.NDArray[np.bool_] | None:
    """bool [n] over ``rows`` (``rows.ids`` order): the rows ``rule`` allows (None: every row)."""
    mask: npt.NDArray[np.bool_] | None = None
    for cond in rule.conditions:
        m = mask_of(cond, rows)
        mask = m if mask is None else np.logical_and(mask, m, out=mask)
    return mask
