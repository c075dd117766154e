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
class Reranker(Protocol):
    name: str

    def rerank(self, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
        """Reorder (and optionally cut) ``hits``; never adds a hit that was not given."""
        ...
