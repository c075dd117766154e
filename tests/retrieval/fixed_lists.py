"""A retriever of fixed chunks, for the fusion tests (hybrid, periods, line items)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.types import Chunk
from retrieval.types import Filters, Hit


@dataclass
class Fixed:
    """A retriever that returns fixed chunks (ignoring groups and filters: the hybrid guards)."""

    name: str
    chunks: Sequence[Chunk]
    signal: str | None = None  # the typed Hit field its scores fill
    scores: Sequence[float] = ()
    calls: list[str] = field(default_factory=list)  # names of the threads that ran retrieve

    def retrieve(self, query: str, top_k: int = 10, filters: Filters | None = None,
                 groups: Sequence[str] | None = None) -> list[Hit]:
        self.calls.append(threading.current_thread().name)
        hits = []
        for i, c in enumerate(self.chunks[:top_k]):
            score = self.scores[i] if self.scores else 1.0 / (i + 1)
            sig = {self.signal: score} if self.signal else {}
            hits.append(Hit(chunk=c, score=score, retriever=self.name, rank=i + 1,
                            details={f"{self.name}_score": score}, **sig))
        return hits
