"""Closed-book answering: the generator is given only the question (no retrieval, no context).

The prompt is ``rag_app.prompting.build_closed_book_prompt``, beside ``build_prompt`` and built from
the same pieces (the refusal text, the question label and escaping, the language rule), so the
only difference from a RAG answer is the missing context; the closed-book fine-tuning records use
the same builder. ``CLOSED_BOOK_TEMPLATE_VERSION`` names the template.
"""

from __future__ import annotations

import time
from typing import Any

from rag_app.citations import parse_citations
from rag_app.prompting import CLOSED_BOOK_TEMPLATE_VERSION, build_closed_book_prompt
from rag_app.refusal import is_refusal_text
from rag_app.types import Answer, GenerationResult, Generator, Message

__all__ = ["CLOSED_BOOK_TEMPLATE_VERSION", "answer_closed_book", "build_closed_book_prompt"]

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
