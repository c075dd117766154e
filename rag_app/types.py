"""Typed data of the answering layer: citations, answers, generator contracts.

Every object that leaves ragqa as JSON (the CLI's ``--json``, the adapters, evaluation traces,
the page's feedback file) goes through the ``to_dict`` / ``from_dict`` pair of its class;
``Answer.to_dict`` carries ``schema_version`` (``ANSWER_SCHEMA_VERSION``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from retrieval.types import Hit

if TYPE_CHECKING:
    from .prompting import Prompt

# Version of the JSON form of ``Answer`` (and of ``ragqa search --json``): bumped when a field
# changes meaning or is removed; added fields keep it.
ANSWER_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        return cls(role=str(d["role"]), content=str(d["content"]))


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


@runtime_checkable
class ContextGenerator(Generator, Protocol):
    """A generator that reads the context blocks and the question as data (``Prompt.blocks``,
    ``Prompt.question``) instead of from the prompt text: ``RAG`` hands such a generator the
    built ``Prompt`` itself, so no change to the prompt template can break it."""

    def generate_prompt(self, prompt: Prompt, *, max_tokens: int = 512, temperature: float = 0.0) -> GenerationResult:
        ...

    def stream_prompt(self, prompt: Prompt, *, max_tokens: int = 512, temperature: float = 0.0) -> Iterator[StreamEvent]:
        ...


@dataclass(frozen=True, slots=True)
class Citation:
    """A ``[n]`` marker in an answer, resolved to the context block it names. ``document`` is the
    cited document's context line (title, issuer, form, period: ``Chunk.doc_context``)."""

    n: int
    chunk_id: str
    source: str
    page: int | None
    heading: str
    document: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "chunk_id": self.chunk_id, "source": self.source, "page": self.page,
                "heading": self.heading, "document": self.document}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Citation:
        return cls(n=int(d["n"]), chunk_id=str(d["chunk_id"]), source=str(d["source"]), page=d.get("page"),
                   heading=str(d.get("heading") or ""), document=str(d.get("document") or ""))


@dataclass(frozen=True, slots=True)
class Answer:
    """What ``RAG.ask`` returns, with the per-question trace an evaluator needs.

    ``contexts``: the context blocks of the prompt, in order (block ``[n]`` is
    ``contexts[n - 1]``): the hits that fit the context budget, whether the generator ran or the
    question was refused before it. ``retrieved``: every hit retrieval returned (rank order;
    ``contexts`` is a prefix of it). ``prompt``: the exact messages built for the generator
    (empty when refused before one was needed: no hits). ``raw_output``: the generator's text
    before citation clean-up (None when no generator ran). ``settings``: what produced the answer
    (answer settings, generator, prompt template version, embedder). ``timings`` are seconds;
    ``tokens`` counts.
    """

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
    retrieved: tuple[Hit, ...] = ()
    prompt: tuple[Message, ...] = ()
    raw_output: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``schema_version``; ``Answer.from_dict`` inverts it."""
        return {
            "schema_version": ANSWER_SCHEMA_VERSION,
            "question": self.question, "text": self.text, "refused": self.refused,
            "refusal_reason": self.refusal_reason, "generator": self.generator,
            "citations": [c.to_dict() for c in self.citations],
            "invalid_citations": self.invalid_citations, "uncited": self.uncited,
            "injection_flags": list(self.injection_flags), "rewritten_question": self.rewritten_question,
            "contexts": [h.to_dict() for h in self.contexts],
            "retrieved": [h.to_dict() for h in self.retrieved],
            "prompt": [m.to_dict() for m in self.prompt], "raw_output": self.raw_output,
            "settings": dict(self.settings), "timings": dict(self.timings), "tokens": dict(self.tokens),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Answer:
        version = d.get("schema_version")
        if version != ANSWER_SCHEMA_VERSION:
            raise ValueError(f"answer schema_version {version!r} is not {ANSWER_SCHEMA_VERSION}, the version "
                             "this ragqa reads; re-create the answers with this ragqa")
        return cls(
            question=str(d["question"]), text=str(d["text"]), refused=bool(d["refused"]),
            refusal_reason=d.get("refusal_reason"), generator=str(d["generator"]),
            citations=tuple(Citation.from_dict(c) for c in d.get("citations") or ()),
            invalid_citations=int(d.get("invalid_citations", 0)), uncited=bool(d.get("uncited", False)),
            injection_flags=tuple(d.get("injection_flags") or ()), rewritten_question=d.get("rewritten_question"),
            contexts=tuple(Hit.from_dict(h) for h in d.get("contexts") or ()),
            retrieved=tuple(Hit.from_dict(h) for h in d.get("retrieved") or ()),
            prompt=tuple(Message.from_dict(m) for m in d.get("prompt") or ()), raw_output=d.get("raw_output"),
            settings=dict(d.get("settings") or {}), timings=dict(d.get("timings") or {}),
            tokens=dict(d.get("tokens") or {}),
        )


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What ``RAG.status()`` reports about the index. ``exists`` False: nothing ingested yet
    (every count 0). ``last_ingest`` is the ISO time the newest document was indexed;
    ``languages`` counts chunks per language, most first."""

    index_dir: str
    exists: bool
    documents: int = 0
    chunks: int = 0
    embedder_id: str = ""
    dim: int = 0
    analyzer: str = ""
    format_version: int = 0
    generation: int = 0
    vector_store: str = ""
    languages: dict[str, int] = field(default_factory=dict)
    last_ingest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"index_dir": self.index_dir, "exists": self.exists, "documents": self.documents,
                "chunks": self.chunks, "embedder_id": self.embedder_id, "dim": self.dim,
                "analyzer": self.analyzer, "format_version": self.format_version, "generation": self.generation,
                "vector_store": self.vector_store, "languages": dict(self.languages),
                "last_ingest": self.last_ingest}


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """One indexed document as ``RAG.documents()`` lists it. ``source`` is relative to ``root``
    (the folder it was ingested from: ``Path(root) / source`` is the original file);
    ``indexed_at`` is the ISO time it was last indexed."""

    doc_id: str
    source: str
    root: str
    file_type: str
    groups: tuple[str, ...]
    title: str | None
    date: str | None
    chunks: int
    size_bytes: int
    indexed_at: str

    @property
    def path(self) -> Path:
        """The original file (it may have been deleted or moved since it was indexed)."""
        return Path(self.root) / self.source

    @property
    def name(self) -> str:
        return self.title or PurePosixPath(self.source).name

    @property
    def folder(self) -> str:
        """The folder of ``source`` below ``root`` ("" at the top)."""
        parent = PurePosixPath(self.source).parent.as_posix()
        return "" if parent == "." else parent

    def to_dict(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "source": self.source, "root": self.root, "file_type": self.file_type,
                "groups": list(self.groups), "title": self.title, "date": self.date, "chunks": self.chunks,
                "size_bytes": self.size_bytes, "indexed_at": self.indexed_at}
