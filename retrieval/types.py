"""Typed results and contracts of retrieval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ingest.types import Chunk

ALL_GROUPS = ("*",)
PUBLIC_GROUP = "public"


@dataclass(frozen=True, slots=True)
class Filters:
    """Metadata filters; every field is optional and they combine with AND.

    ``source_prefix`` matches the start of a chunk's source path (relative to the ingested
    root); ``file_types`` are extensions without the dot ("pdf", "md"); ``date_from`` /
    ``date_to`` are inclusive ISO dates ("2026-04-01") compared with the document's date.
    """

    source_prefix: str | None = None
    file_types: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    def is_empty(self) -> bool:
        return not (self.source_prefix or self.file_types or self.langs or self.date_from or self.date_to)

    def to_dict(self) -> dict[str, Any]:
        return {"source_prefix": self.source_prefix, "file_types": list(self.file_types),
                "langs": list(self.langs), "date_from": self.date_from, "date_to": self.date_to}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Filters:
        return cls(source_prefix=d.get("source_prefix"), file_types=tuple(d.get("file_types") or ()),
                   langs=tuple(d.get("langs") or ()), date_from=d.get("date_from"), date_to=d.get("date_to"))


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk. ``score`` is retriever-specific (cosine, BM25, fused RRF...);
    compare scores only within one retriever's list. ``rank`` is 1-based.

    Relevance signals, for gates that compare against a threshold (the answer side's refusal):
    ``dense_score`` is the query-chunk cosine of a dense retriever, ``bm25_score`` the chunk's BM25
    score; None when no retriever that produced this hit measured it (a custom retriever may set
    either, or neither: a gate then abstains). ``details`` is free-form diagnostics (ranks per list).
    """

    chunk: Chunk
    score: float
    retriever: str
    rank: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    dense_score: float | None = None
    bm25_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the chunk (``Chunk.to_dict``), scores, rank and details; ``from_dict`` inverts it."""
        return {"chunk": self.chunk.to_dict(), "score": float(self.score), "retriever": self.retriever,
                "rank": self.rank, "dense_score": self.dense_score, "bm25_score": self.bm25_score,
                "details": dict(self.details)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hit:
        return cls(chunk=Chunk.from_dict(d["chunk"]), score=float(d["score"]), retriever=str(d["retriever"]),
                   rank=int(d.get("rank", 0)), details=dict(d.get("details") or {}),
                   dense_score=d.get("dense_score"), bm25_score=d.get("bm25_score"))


@runtime_checkable
class Retriever(Protocol):
    name: str

    def retrieve(
        self,
        query: str,
        top_k: int = 10,
        filters: Filters | None = None,
        groups: Sequence[str] | None = None,
    ) -> list[Hit]:
        """The ``top_k`` best chunks visible to ``groups``.

        ``groups`` are the caller's access groups; "public" is always included, so ``None`` or
        ``()`` sees public documents only. ``["*"]`` (``ALL_GROUPS``) sees everything: admin use.
        """
        ...


@runtime_checkable
class QueryPreparingRetriever(Retriever, Protocol):
    """A retriever that searches with the query's vector and can encode it ahead of ``retrieve``.

    ``HybridRetriever`` calls ``prepare`` in its own thread before the lists fan out, so the
    query is encoded once while the lists that need no vector (BM25) already run."""

    def prepare(self, query: str) -> None:
        """Encode ``query`` now (memoised), so that ``retrieve(query, ...)`` does not."""
        ...


@runtime_checkable
class LexicalCapability(Protocol):
    """Declares whether a retriever matches the query's *terms* (``lexical = True``: BM25).

    A lexical list cannot match a chunk written in another language than the query, so its
    silence about such a chunk is no evidence against it (``fusion.cross_language_credit``).
    A retriever that does not declare it counts as not lexical."""

    lexical: bool


def is_lexical(retriever: Retriever) -> bool:
    """The retriever's declared ``lexical`` capability (False when it declares none)."""
    return isinstance(retriever, LexicalCapability) and retriever.lexical


@runtime_checkable
class Reranker(Protocol):
    name: str

    def rerank(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        """Reorder (and optionally cut) ``hits``; never adds a hit that was not given."""
        ...
