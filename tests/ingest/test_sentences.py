from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.sentences import iter_sentence_spans, split_sentences


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def assert_partition(text: str) -> None:
    spans = split_sentences(text)
    pos = 0
    for s, e in spans:
        assert s == pos and e > s
        pos = e
    assert pos == len(text)
    assert "".join(text[s:e] for s, e in spans) == text


EN = (
    "Employees may work remotely up to three days per week. Requests are approved by the "
    "team lead, e.g. Ms. Tanaka in Sales or Dr. Brown in R&D. The allowance is 3.5% of the "
    "base salary (approx. $120 per month)! Does it apply to contractors? No. "
    'The U.S. office follows its own rules. J. Smith wrote "Remote work is a privilege." '
    "It was signed on Jan. 5 by the CEO."
)

JA = (
    "当社では、従業員は週に三日まで在宅勤務を行うことができます。申請はチームリーダーが承認します！"
    "契約社員にも適用されますか？いいえ、適用されません。"
    "部長は「在宅勤務は信頼に基づく制度です。」と述べた。「規程は毎年見直します。」"
    "詳細は人事部までお問い合わせください。"
)


def test_english_sentence_ends_skip_abbreviations_decimals_and_initials() -> None:
    got = [s.strip() for s in sentences(EN)]
    assert got == [
        "Employees may work remotely up to three days per week.",
        "Requests are approved by the team lead, e.g. Ms. Tanaka in Sales or Dr. Brown in R&D.",
        "The allowance is 3.5% of the base salary (approx. $120 per month)!",
        "Does it apply to contractors?",
        "No.",
        "The U.S. office follows its own rules.",
        'J. Smith wrote "Remote work is a privilege."',
        "It was signed on Jan. 5 by the CEO.",
    ]
    assert_partition(EN)


def test_number_abbreviations_only_hold_before_a_number() -> None:
    text = "See Fig. 3 and No. 12 on p. 4. No. The table is wrong."
    assert [s.strip() for s in sentences(text)] == [
        "See Fig. 3 and No. 12 on p. 4.",
        "No.",
        "The table is wrong.",
    ]


def test_english_lowercase_after_period_is_not_a_boundary() -> None:
    text = "See section 4. below for details. Version 2.1.3 ships today."
    assert [s.strip() for s in sentences(text)] == [
        "See section 4. below for details.",
        "Version 2.1.3 ships today.",
    ]


def test_japanese_sentence_ends_and_closing_brackets() -> None:
    got = sentences(JA)
    assert got == [
        "当社では、従業員は週に三日まで在宅勤務を行うことができます。",
        "申請はチームリーダーが承認します！",
        "契約社員にも適用されますか？",
        "いいえ、適用されません。",
        "部長は「在宅勤務は信頼に基づく制度です。」と述べた。",
        "「規程は毎年見直します。」",
        "詳細は人事部までお問い合わせください。",
    ]
    assert_partition(JA)


def test_half_width_marks_in_japanese_text() -> None:
    text = "本当ですか?はい!明日から始めます"
    assert sentences(text) == ["本当ですか?", "はい!", "明日から始めます"]


def test_newlines_split_japanese_lines_lists_and_tables_but_not_english_wraps() -> None:
    wrapped = "The policy applies to all\nemployees of the company. It starts in April."
    assert [s.strip() for s in sentences(wrapped)] == [
        "The policy applies to all\nemployees of the company.",
        "It starts in April.",
    ]
    ja_lines = "第1条 目的\nこの規程は在宅勤務について定める\n第2条 対象"
    assert sentences(ja_lines) == ["第1条 目的\n", "この規程は在宅勤務について定める\n", "第2条 対象"]
    listing = "Requirements:\n- a laptop\n- a quiet room\n- VPN access"
    assert sentences(listing) == ["Requirements:\n", "- a laptop\n", "- a quiet room\n", "- VPN access"]


def test_whitespace_stays_with_the_preceding_sentence() -> None:
    text = "  First one.   Second one.\n\n\nThird."
    assert sentences(text) == ["  First one.   ", "Second one.\n\n\n", "Third."]


def test_empty_and_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences("   \n ") == [(0, 5)]
    assert split_sentences("no punctuation at all") == [(0, 21)]


def test_iter_is_lazy_over_a_large_text() -> None:
    text = "This is a sentence. " * 100_000
    it = iter_sentence_spans(text)
    assert next(it) == (0, 20)
    assert next(it) == (20, 40)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(
                ["Hello", " world", ".", "!", "?", " ", "\n", "。", "」", "「", "日本語", "e.g.", "3.14",
                 "U.S.", "Mr.", " A", " b", "😀", "…", "\u3000", ")", '"'],
            ),
            max_size=80,
        ).map("".join),
    )
)  # fmt: skip
def test_spans_always_partition_the_text(text: str) -> None:
    assert_partition(text)
