"""Follow-up rewriting in English and Japanese, lexical and with a (fake) LLM."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from rag_app.rewrite import is_follow_up, rewrite_question, salient_terms, topic_terms
from rag_app.types import GenerationResult, Generator, Message, StreamEvent

EN_HISTORY = [
    Message("user", "How many days of paid leave do full-time employees get?"),
    Message(
        "assistant",
        "Full-time employees receive 20 days of paid leave per year [1]. Unused leave can be carried over [1].",
    ),
]
JA_HISTORY = [
    Message("user", "年次有給休暇は何日付与されますか？"),
    Message("assistant", "年次有給休暇は、入社6か月後に10日付与されます[1]。"),
]


@pytest.mark.parametrize(
    "question",
    ["What about contractors?", "And part-timers?", "Does it apply to interns too?", "Can it be carried over?",
     "Also for managers?", "In Osaka?"],
)  # fmt: skip
def test_english_follow_ups_get_the_previous_topic(question: str) -> None:
    assert is_follow_up(question)
    out = rewrite_question(question, EN_HISTORY)
    assert out.endswith(question)  # the user's words are kept
    assert "paid leave" in out and "employees" in out  # the topic retrieval needs
    assert "How many" not in out  # question words are not salient


@pytest.mark.parametrize(
    "question",
    [
        "派遣社員は？",
        "それは繰り越せますか？",
        "では、申請方法は？",
        "その場合の上限は何日ですか",
        "じゃあパートタイマーは？",
    ],
)
def test_japanese_follow_ups_get_the_previous_topic(question: str) -> None:
    assert is_follow_up(question)
    out = rewrite_question(question, JA_HISTORY)
    assert out.endswith(question)
    assert "年次有給休暇" in out
    assert "何日" not in out.replace(question, "")


@pytest.mark.parametrize(
    "question",
    [
        "How do I submit an expense report for a business trip to Osaka?",
        "What is the password policy for the VPN and how often must it be changed?",  # "it" refers inside
        "経費精算の締め日はいつですか？",
        "リモートワークを申請するにはどのフォームを使いますか？",
    ],
)
def test_self_contained_questions_are_unchanged(question: str) -> None:
    assert not is_follow_up(question)
    assert rewrite_question(question, EN_HISTORY + JA_HISTORY) == question


def test_no_history_means_no_rewrite() -> None:
    assert rewrite_question("What about contractors?", []) == "What about contractors?"
    only_assistant = [Message("assistant", "Hello, how can I help?")]
    assert rewrite_question("それは？", only_assistant) == "それは？"


def test_chained_follow_ups_keep_the_original_topic() -> None:
    history = [
        *EN_HISTORY,
        Message("user", "What about contractors?"),
        Message("assistant", "Contractors get 10 days [1]."),
    ]
    out = rewrite_question("And interns?", history)
    assert "paid leave" in out and "contractors" in out and out.endswith("And interns?")


def test_answer_terms_add_the_last_answers_topic() -> None:
    history = [
        Message("user", "Who approves it?"),
        Message("assistant", "Remote work requests are approved by the remote work committee [1]."),
    ]
    plain = rewrite_question("And how long does it take?", history)
    with_answer = rewrite_question("And how long does it take?", history, answer_terms=2)
    assert "remote" not in plain.lower()
    assert "remote" in with_answer and "work" in with_answer


def test_salient_and_topic_terms() -> None:
    assert salient_terms("How many days of paid leave do full-time employees get?") == [
        "days",
        "paid",
        "leave",
        "full-time",
        "employees",
    ]
    assert salient_terms("年次有給休暇は何日付与されますか？") == ["年次有給休暇", "付与"]
    assert topic_terms("Leave requests go to HR. Leave balance is shown in Workday [1].", 2) == [
        "leave",
        "requests",
    ]


class FakeLLM:
    name = "fake"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.seen: list[Sequence[Message]] = []

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> GenerationResult:
        self.seen.append(messages)
        return GenerationResult(text=self.reply, model="fake")

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Iterator[StreamEvent]:
        yield StreamEvent(done=True, result=self.generate(messages))


def test_llm_rewrite_is_used_and_cleaned() -> None:
    llm = FakeLLM('Standalone question: "How many days of paid leave do contractors get?"\nextra line')
    assert isinstance(llm, Generator)
    out = rewrite_question("What about contractors?", EN_HISTORY, llm=llm)
    assert out == "How many days of paid leave do contractors get?"
    prompt = llm.seen[0][-1].content
    assert "How many days of paid leave do full-time employees get?" in prompt
    assert "Last question: What about contractors?" in prompt


def test_llm_rewrite_in_japanese() -> None:
    llm = FakeLLM("派遣社員には年次有給休暇が何日付与されますか？")
    assert (
        rewrite_question("派遣社員は？", JA_HISTORY, llm=llm)
        == "派遣社員には年次有給休暇が何日付与されますか？"
    )


def test_bad_llm_output_falls_back_to_lexical() -> None:
    assert rewrite_question("And part-timers?", EN_HISTORY, llm=FakeLLM("   ")).endswith("And part-timers?")

    class Broken(FakeLLM):
        def generate(
            self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
        ) -> GenerationResult:
            raise ConnectionError("server down")

    out = rewrite_question("And part-timers?", EN_HISTORY, llm=Broken(""))
    assert "paid leave" in out and out.endswith("And part-timers?")


def test_llm_is_not_called_for_self_contained_questions() -> None:
    llm = FakeLLM("should not be used")
    q = "How do I submit an expense report for a business trip to Osaka?"
    assert rewrite_question(q, EN_HISTORY, llm=llm) == q
    assert llm.seen == []
