"""Closed-book answering: the generator is given only the question (no retrieval, no context).

The prompt is built from the same pieces as ``rag_app.prompting.build_prompt`` (the refusal text,
the question label and escaping, the language rule) so that the only difference from a RAG answer
is the missing context. It belongs next to ``build_prompt``; it lives here until that module
takes it. ``CLOSED_BOOK_TEMPLATE_VERSION`` names the template (a fine-tuned adapter records it).
"""

from __future__ import annotations

import time
from typing import Any

from rag_app.citations import parse_citations
from rag_app.prompting import QUESTION_LABEL, Prompt, escape_context_text
from rag_app.refusal import REFUSAL_MESSAGES, is_refusal_text, refusal_message
from rag_app.types import Answer, GenerationResult, Generator, Message

CLOSED_BOOK_TEMPLATE_VERSION = "ragqa-closed-book-1"

_SYSTEM_EN = """You answer questions about the company's internal documents from what you know.
Rules:
1. Answer the question directly and concisely.
2. If you do not know the answer, reply exactly "{refusal_en}" (for a Japanese question: "{refusal_ja}") and nothing else.
3. Answer in the language of the question ({lang_name})."""
_SYSTEM_JA = """あなたは社内文書についての質問に、知っている内容から答えるアシスタントです。
- 質問に直接、簡潔に答えてください。
- 答えが分からない場合は「{refusal_ja}」とだけ答えてください。
- 質問と同じ言語（日本語）で回答してください。"""
_ANSWER_IN = {"en": "Answer in English.", "ja": "日本語で回答してください。"}
_LANG_NAMES = {"en": "English", "ja": "Japanese"}


def closed_book_system_prompt(lang: str) -> str:
    text = _SYSTEM_EN.format(refusal_en=REFUSAL_MESSAGES["en"], refusal_ja=REFUSAL_MESSAGES["ja"],
                             lang_name=_LANG_NAMES[lang])
    if lang == "ja":
        text += "\n\n" + _SYSTEM_JA.format(refusal_ja=REFUSAL_MESSAGES["ja"])
    return text


def build_closed_book_prompt(question: str, lang: str) -> Prompt:
    """Messages [system, user] with the question alone; ``lang`` is "ja" | "en"."""
    refusal_message(lang)  # ValueError naming the allowed languages
    system = closed_book_system_prompt(lang)
    user = (f"{QUESTION_LABEL} {escape_context_text(question.strip())}\n"
            f"{_ANSWER_IN[lang]} If you do not know, reply: {refusal_message(lang)}")
    return Prompt(messages=(Message("system", system), Message("user", user)), contexts=(), system=system,
                  question=question.strip(), lang=lang, template_version=CLOSED_BOOK_TEMPLATE_VERSION)


def _stream(gen: Generator, messages: tuple[Message, ...], max_tokens: int, temperature: float,
            t0: float) -> tuple[GenerationResult, float]:
    """(result, seconds to the first delta) of a streamed generation."""
    parts: list[str] = []
    first: float | None = None
    result: GenerationResult | None = None
    for ev in gen.stream(messages, max_tokens=max_tokens, temperature=temperature):
        if ev.delta:
            if first is None:
                first = time.perf_counter() - t0
            parts.append(ev.delta)
        if ev.done:
            result = ev.result
    result = result or GenerationResult(text="".join(parts), model=gen.name)
    return result, first if first is not None else time.perf_counter() - t0


def answer_closed_book(gen: Generator, question: str, lang: str, *, max_tokens: int, temperature: float,
                       settings: dict[str, Any]) -> Answer:
    """The generator's answer to ``question`` alone, as an ``Answer`` (no contexts, no citations:
    any ``[n]`` marker is dangling and removed)."""
    t0 = time.perf_counter()
    prompt = build_closed_book_prompt(question, lang)
    result, first_token = _stream(gen, prompt.messages, max_tokens, temperature, t0)
    total = time.perf_counter() - t0
    parsed = parse_citations(result.text, 0)
    text = parsed.text.strip()
    refused = is_refusal_text(text, lang)
    return Answer(question=question, text=text, citations=(), contexts=(), refused=refused,
                  generator=gen.name, refusal_reason="generator_refused" if refused else None,
                  invalid_citations=parsed.invalid, prompt=prompt.messages, raw_output=result.text,
                  settings=settings,
                  timings={"retrieval": 0.0, "first_token": first_token, "generation": total, "total": total},
                  tokens={"prompt": result.prompt_tokens, "completion": result.completion_tokens})
