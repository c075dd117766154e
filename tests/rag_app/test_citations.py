"""Citation markers: every accepted form, validation against the number of blocks, resolution."""

from __future__ import annotations

import pytest

from ingest.types import Chunk
from rag_app.citations import CitationParse, parse_citations, resolve_citations, strip_citations
from retrieval.types import Hit


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("Employees get 20 days [1].", (1,)),
        ("Both apply [1, 2].", (1, 2)),
        ("Both apply [2,1].", (2, 1)),
        ("Both apply [1][3].", (1, 3)),
        ("All three [1-3].", (1, 2, 3)),
        ("All three [1–3].", (1, 2, 3)),
        ("年次有給休暇は10日です［１］。", (1,)),
        ("申請は3日前までです［１，２］。", (1, 2)),
        ("申請は3日前までです【2】。", (2,)),
        ("申請は3日前までです[1、3]。", (1, 3)),
        ("First [2]. Then [1]. Again [2].", (2, 1)),
    ],
)
def test_accepted_forms(text: str, valid: tuple[int, ...]) -> None:
    parse = parse_citations(text, n_contexts=3)
    assert parse.valid == valid
    assert parse.invalid == 0
    assert parse.text == text  # valid markers are kept verbatim
    assert parse.cited


def test_invalid_markers_are_counted_and_removed() -> None:
    parse = parse_citations("Leave is 20 days [4]. Carry-over is allowed [1][7].", n_contexts=3)
    assert parse.valid == (1,)
    assert parse.invalid == 2
    assert parse.text == "Leave is 20 days. Carry-over is allowed [1]."


def test_partially_valid_marker_is_rewritten() -> None:
    parse = parse_citations("See [2, 9] and [0].", n_contexts=3)
    assert parse.valid == (2,)
    assert parse.invalid == 2
    assert parse.text == "See [2] and."


def test_range_past_the_end_counts_once() -> None:
    parse = parse_citations("All of them [2-5].", n_contexts=3)
    assert parse.valid == (2, 3)
    assert parse.invalid == 1
    assert parse.text == "All of them [2, 3]."


def test_absurd_range_is_invalid() -> None:
    parse = parse_citations("Everything [1-999].", n_contexts=3)
    assert parse.valid == ()
    assert parse.invalid == 1
    assert parse.text == "Everything."


def test_years_and_non_numeric_brackets_are_not_citations() -> None:
    text = "The [2024] policy replaced the [draft] and [ ] boxes."
    parse = parse_citations(text, n_contexts=3)
    assert parse == CitationParse(valid=(), invalid=0, text=text)
    assert not parse.cited


def test_no_contexts_makes_every_marker_invalid() -> None:
    parse = parse_citations("提供された資料からは分かりません[1]。", n_contexts=0)
    assert parse.valid == () and parse.invalid == 1
    assert parse.text == "提供された資料からは分かりません。"


def _hit(i: int, source: str, page: int | None, heading: tuple[str, ...]) -> Hit:
    chunk = Chunk(
        id=f"c{i}",
        doc_id="d",
        text="t",
        source=source,
        start=0,
        end=1,
        ordinal=i,
        page=page,
        heading_path=heading,
    )
    return Hit(chunk=chunk, score=0.5, retriever="test", rank=i + 1)


def test_resolve_maps_numbers_to_hits() -> None:
    hits = [_hit(0, "hr/leave.md", None, ("Leave",)), _hit(1, "hr/規程.pdf", 4, ("第1章", "総則"))]
    cites = resolve_citations(parse_citations("A [2]. B [1]. C [2].", 2), hits)
    assert [(c.n, c.chunk_id, c.source, c.page, c.heading) for c in cites] == [
        (2, "c1", "hr/規程.pdf", 4, "第1章 > 総則"),
        (1, "c0", "hr/leave.md", None, "Leave"),
    ]


def test_resolve_with_mismatched_hits_names_the_fix() -> None:
    with pytest.raises(ValueError, match=r"citation \[3\].*2 hits"):
        resolve_citations(
            CitationParse(valid=(3,), invalid=0, text=""), [_hit(0, "a", None, ()), _hit(1, "b", None, ())]
        )


def test_strip_citations() -> None:
    assert (
        strip_citations("Leave is 20 days [1][2]. 申請は必要です［３］。")
        == "Leave is 20 days. 申請は必要です。"
    )
