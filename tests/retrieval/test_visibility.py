"""The visibility rule's three forms agree: the Python predicate, Chroma's ``where`` and the row mask.

Property-based over random chunks, caller groups and filters. The ``where`` is checked two ways:
with ``evaluate_where`` (Chroma's where semantics, over the metadata ``ingest.store.chunk_metadata``
writes) and against a real Chroma collection on disk.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.store import ChromaStore, chunk_metadata
from ingest.types import Chunk
from retrieval.permissions import chroma_where, is_visible, matches_filters, normalise_groups
from retrieval.rows import UNDATED, row_meta
from retrieval.types import ALL_GROUPS, Filters
from retrieval.visibility import DatedWithin, OneOf, SharesGroup, UnderSource, VisibilityRule

GROUPS = ["public", "hr", "eng", "exec"]
SEGMENTS = ["a", "ab", "a.b", "b"]
DATES = [None, "2025-01-15", "2025-06-30", "2025-06-30T10:00:00", "2026-04-01", "undated"]
FILTER_DATES = [None, "2025-01-15", "2025-06-30", "2025-12-31"]


def evaluate_where(where: Mapping[str, Any] | None, meta: Mapping[str, Any]) -> bool:
    """Chroma's ``where`` semantics over one record's metadata, strict about the shapes Chroma
    accepts: one key per dict, ``$and``/``$or`` over at least two clauses, a comparison with a
    key the record lacks never matches, ``$contains`` on a list is element membership."""
    if where is None:
        return True
    assert len(where) == 1, f"a where dict holds one key: {where}"
    ((key, value),) = where.items()
    if key in ("$and", "$or"):
        assert isinstance(value, list) and len(value) >= 2, f"Chroma needs >= 2 clauses under {key}: {value}"
        results = [evaluate_where(w, meta) for w in value]
        return all(results) if key == "$and" else any(results)
    assert isinstance(value, dict) and len(value) == 1, f"one operator per field: {where}"
    ((op, operand),) = value.items()
    if key not in meta:
        return False
    v = meta[key]
    if op == "$contains":
        assert isinstance(v, list), f"$contains on the non-list field {key!r}"
        return operand in v
    if op == "$in":
        assert isinstance(operand, list) and operand, f"$in needs a non-empty list: {where}"
        return v in operand
    if op in ("$gte", "$lte"):
        assert isinstance(operand, int) and isinstance(v, int), f"{op} compares numbers: {where}"
        return v >= operand if op == "$gte" else v <= operand
    raise AssertionError(f"operator {op!r} is not one the compiler should emit")


def test_the_evaluator_follows_chroma() -> None:
    meta = {"groups": ["hr", "public"], "lang": "ja", "date": 20250630}
    assert evaluate_where({"groups": {"$contains": "hr"}}, meta)
    assert not evaluate_where({"groups": {"$contains": "h"}}, meta)
    assert not evaluate_where({"file_type": {"$in": ["md"]}}, meta)  # absent key
    assert evaluate_where({"$and": [{"lang": {"$in": ["ja"]}}, {"date": {"$lte": 20250630}}]}, meta)
    assert not evaluate_where({"date": {"$gte": 20250701}}, {"groups": ["hr"]})
    with pytest.raises(AssertionError, match="Chroma needs >= 2 clauses under \\$or"):
        evaluate_where({"$or": [{"lang": {"$in": ["ja"]}}]}, meta)


@st.composite
def chunks(draw: st.DrawFn, n_max: int = 12) -> list[Chunk]:
    n = draw(st.integers(min_value=1, max_value=n_max))
    out = []
    for i in range(n):
        dirs = draw(st.lists(st.sampled_from(SEGMENTS), max_size=3))
        ext = draw(st.sampled_from(["md", "txt", "pdf"]))
        out.append(Chunk(
            id=f"c{i}", doc_id=f"d{i}", text="x", source="/".join([*dirs, f"f{i}.{ext}"]), start=0, end=1,
            ordinal=0, lang=draw(st.sampled_from(["en", "ja"])),
            groups=tuple(draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=3, unique=True))),
            file_type=ext, date=draw(st.sampled_from(DATES)),
        ))
    return out


@st.composite
def filters_for(draw: st.DrawFn, cs: list[Chunk]) -> Filters | None:
    """Filters aimed at ``cs``: a source prefix cut from one of their sources at any character
    (so "a" against "ab/f1.md" too), types, languages and dates, each set about half the time."""
    if draw(st.integers(0, 4)) == 0:
        return None
    prefix = None
    if draw(st.booleans()):
        src = draw(st.sampled_from([c.source for c in cs]))
        cut = src[: draw(st.integers(1, len(src)))]
        prefix = draw(st.sampled_from([cut, cut + "/", "/" + cut]))
    some = st.booleans()
    return Filters(
        source_prefix=prefix,
        file_types=tuple(draw(st.lists(st.sampled_from(["md", "txt", "pdf"]), max_size=2, unique=True))) if draw(some) else (),
        langs=(draw(st.sampled_from(["en", "ja"])),) if draw(some) else (),
        date_from=draw(st.sampled_from(FILTER_DATES)) if draw(some) else None,
        date_to=draw(st.sampled_from(FILTER_DATES)) if draw(some) else None,
    )


callers = st.one_of(
    st.just(ALL_GROUPS),
    st.lists(st.sampled_from(["hr", "eng", "exec", "nobody"]), max_size=3).map(normalise_groups),
)


@settings(max_examples=300, deadline=None)
@given(cs=chunks(), user=callers, data=st.data())
def test_predicate_where_and_mask_agree(cs: list[Chunk], user: tuple[str, ...], data: st.DataObject) -> None:
    f = data.draw(filters_for(cs))
    rule = VisibilityRule.of(user, f)
    by_predicate = [rule.allows(c) for c in cs]
    where = rule.chroma_where()
    by_where = [evaluate_where(where, chunk_metadata(c)) for c in cs]
    mask = rule.row_mask(row_meta([c.id for c in cs], cs))
    by_mask = [True] * len(cs) if mask is None else mask.tolist()
    assert by_predicate == by_where == by_mask, (rule, where)
    # the permissions entry points are the two halves of the same rule
    assert by_predicate == [is_visible(c.groups, user) and matches_filters(c, f) for c in cs]
    assert chroma_where(user, f) == where


@settings(max_examples=100, deadline=None)
@given(cs=chunks(), user=callers, data=st.data())
def test_a_row_without_its_chunk_is_never_shown_to_a_group_caller(cs: list[Chunk], user: tuple[str, ...],
                                                                   data: st.DataObject) -> None:
    f = data.draw(filters_for(cs))
    rows = row_meta([*(c.id for c in cs), "orphan"], cs)
    assert rows.date[-1] == UNDATED and rows.pos["orphan"] == len(cs)
    mask = VisibilityRule.of(user, f).row_mask(rows)
    if user != ALL_GROUPS:
        assert mask is not None and not mask[-1]


def test_the_rule_for_a_caller() -> None:
    f = Filters(source_prefix="/hr/", file_types=("md",), langs=("ja", "en"), date_from="2025-01-01",
                date_to="2025-12-31")
    rule = VisibilityRule.of(("hr", "public"), f)
    assert rule.conditions == (SharesGroup(("hr", "public")), UnderSource("hr"), OneOf("file_type", ("md",)),
                               OneOf("lang", ("ja", "en")), DatedWithin(20250101, 20251231))
    assert rule.chroma_where() == {"$and": [
        {"$or": [{"groups": {"$contains": "hr"}}, {"groups": {"$contains": "public"}}]},
        {"$or": [{"paths": {"$contains": "hr"}}, {"paths": {"$contains": "hr/"}}]},
        {"file_type": {"$in": ["md"]}},
        {"lang": {"$in": ["ja", "en"]}},
        {"date": {"$gte": 20250101}},
        {"date": {"$lte": 20251231}},
    ]}
    assert VisibilityRule.of(ALL_GROUPS).conditions == ()
    assert VisibilityRule.of(ALL_GROUPS, Filters()).chroma_where() is None
    assert VisibilityRule.of(("public",)).chroma_where() == {"groups": {"$contains": "public"}}
    # equal rules are one memo key, however the filters were spelled
    assert VisibilityRule.of(("public",), Filters()) == VisibilityRule.of(("public",), None)


def test_errors_name_the_bad_value_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r"^invalid date_to '2025-13' in Filters: use an ISO date like 2026-04-01$"):
        VisibilityRule.of(("public",), Filters(date_to="2025-13"))
    with pytest.raises(ValueError, match=r"a caller with no groups sees nothing.*normalise_groups, which adds 'public'"):
        VisibilityRule.of(()).chroma_where()
    c = Chunk(id="c", doc_id="d", text="x", source="a.md", start=0, end=1, ordinal=0, groups=("public",))
    assert not VisibilityRule.of(()).allows(c)  # the predicate and the mask fail closed


# -- against a real Chroma collection ---------------------------------------------------------------
def random_chunks(seed: int, n: int) -> list[Chunk]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ext = rnd.choice(["md", "txt", "pdf"])
        source = "/".join([*rnd.choices(SEGMENTS, k=rnd.randint(0, 3)), f"f{i}.{ext}"])
        out.append(Chunk(id=f"c{i}", doc_id=f"d{i}", text="x", source=source, start=0, end=1, ordinal=0,
                         lang=rnd.choice(["en", "ja"]), groups=tuple(rnd.sample(GROUPS, rnd.randint(1, 3))),
                         file_type=ext, date=rnd.choice(DATES)))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChromaStore, list[Chunk]]]:
    """A real on-disk collection of 80 random chunks (3-dim random vectors)."""
    cs = random_chunks(seed=3, n=80)
    s = ChromaStore(Path(tmp_path_factory.mktemp("vis-chroma")), "visibility-test")
    s.upsert(cs, np.random.default_rng(0).random((len(cs), 3), dtype=np.float32))
    yield s, cs
    s.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=callers, data=st.data())
def test_chroma_evaluates_the_where_as_the_predicate_does(store: tuple[ChromaStore, list[Chunk]],
                                                          user: tuple[str, ...], data: st.DataObject) -> None:
    s, cs = store
    f = data.draw(filters_for(cs))
    rule = VisibilityRule.of(user, f)
    got = set(s._connect().get(where=rule.chroma_where(), include=[])["ids"])
    assert got == {c.id for c in cs if rule.allows(c)}


def test_the_real_collection_covers_the_cases(store: tuple[ChromaStore, list[Chunk]]) -> None:
    """The random collection holds what the property above needs to mean something."""
    _, cs = store
    assert {g for c in cs for g in c.groups} == set(GROUPS)
    assert any(c.date is None for c in cs) and any(c.date == "2025-06-30" for c in cs)
    assert any("/" in c.source for c in cs)
