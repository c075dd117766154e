"""Typed data of the answering layer: citations, answers, generator contracts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from retrieval.types import Hit


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class GenerationResult:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One piece of a streamed generation: a text delta, or the final result (``done``)."""

    delta: str = ""
    done: bool = False
    result: GenerationResult | None = None


@runtime_checkable
class Generator(Protocol):
    """Writes text from chat messages. Constructors are cheap; models load on first use."""

    name: str

    def generate(self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0) -> GenerationResult:
        ...

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0) -> Iterator[StreamEvent]:
        ...


@dataclass(frozen=True, slots=True)
class Citation:
    """A ``[n]`` marker in an answer, resolved to the context block it names."""

    n: int
    chunk_id: str
    source: str
    page: int | None
    heading: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What ``RAG.ask`` returns. ``contexts`` are the hits shown to the generator, in order
    (context block n is ``contexts[n - 1]``). ``timings`` are seconds; ``tokens`` counts."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    contexts: tuple[Hit, ...]
    refused: bool
    generator: str
    refusal_reason: str | None = None
    invalid_citations: int = 0
    uncited: bool = False
    injection_flags: tuple[str, ...] = ()
    rewritten_question: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
