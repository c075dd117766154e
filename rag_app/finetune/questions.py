"""Questions written for the indexed corpus by a configured generator (a local model or an API):
the generator reads one chunk and writes a question with a short answer copied from it; a pair
is kept only when that answer is found in the chunk."""

from __future__ import annotations

import re

from ingest.types import Chunk
from rag_app.prompting import detect_question_lang
from rag_app.types import Generator, Message

from .raft import contains_answer
from .sources import GoldQuestion, Issue

_INSTRUCTIONS = {
    "en": ("Write one question that the passage below answers, and its answer: a short phrase copied "
           "exactly from the passage. Reply in exactly two lines:\nQuestion: ...\nAnswer: ..."),
    "ja": ("次の文章だけで答えられる質問を1つ作り、その答え（文章からそのまま抜き出した短い語句）を書いてください。"
           "次の2行だけで答えてください:\nQuestion: ...\nAnswer: ..."),
}
_PAIR_RE = re.compile(r"Question:\s*(?P<q>.+?)\s*\n+\s*Answer:\s*(?P<a>.+?)\s*$", re.DOTALL | re.IGNORECASE)


def question_messages(chunk: Chunk) -> list[Message]:
    lang = "ja" if chunk.lang == "ja" else "en"
    return [Message("user", f"{_INSTRUCTIONS[lang]}\n\nPassage:\n{chunk.text}")]


def parse_pair(text: str) -> tuple[str, str] | None:
    """(question, answer) from a "Question: ...\\nAnswer: ..." reply, or None."""
    m = _PAIR_RE.search(text.strip())
    if not m:
        return None
    answer = m["a"].strip().splitlines()[0].strip().strip('"「」')
    return m["q"].strip(), answer


def generate_question(chunk: Chunk, generator: Generator, *, max_tokens: int = 96) -> GoldQuestion | Issue:
    where = f"generated:{chunk.source}#{chunk.id}"
    reply = generator.generate(question_messages(chunk), max_tokens=max_tokens, temperature=0.0).text
    pair = parse_pair(reply)
    if pair is None:
        return Issue(where, f"the generator's reply is not 'Question: ... / Answer: ...': {reply[:80]!r}")
    question, answer = pair
    if not contains_answer(chunk.text, [answer]):
        return Issue(where, f"generated answer {answer[:60]!r} is not in its passage: skipped")
    return GoldQuestion(qid=f"gen-{chunk.id}", question=question, answers=(answer,), source=chunk.source,
                        group=chunk.source, lang=detect_question_lang(question), origin=f"generated:{generator.name}")
