"""ragqa retrieval as a LangChain retriever.

    from rag_app.adapters.langchain import RagqaLangChainRetriever

    retriever = RagqaLangChainRetriever(index_dir=".ragqa", k=4, groups=["hr"])
    docs = retriever.invoke("有給休暇は何日？")          # list[Document]
    docs = retriever.invoke("vpn setup", k=2, groups=["eng"])  # per-call overrides

Each ``Document`` carries the chunk text, ``id=chunk.id`` and the metadata of
``rag_app.adapters.common.hit_metadata``. Permissions are ragqa's: the caller sees the chunks of
``groups`` plus "public" (``["*"]`` sees everything), enforced inside the ragqa retriever.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables.config import run_in_executor
except ImportError as e:  # pragma: no cover - exercised only without langchain installed
    raise ImportError(
        f"RagqaLangChainRetriever needs langchain-core ({e}); install it with: pip install 'ragqa[langchain]'"
    ) from e
from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from retrieval.types import Filters, Hit, Retriever

from .common import as_filters, check_groups, check_mode, check_top_k, hit_metadata, open_retriever

# invoke(query, **kwargs) keys passed on per call; LangChain itself reads "verbose".
CALL_KWARGS = ("k", "groups", "filters")
_IGNORED_KWARGS = frozenset({"verbose"})


def hit_to_document(hit: Hit) -> Document:
    return Document(page_content=hit.chunk.text, metadata=hit_metadata(hit), id=hit.chunk.id)


class RagqaLangChainRetriever(BaseRetriever):
    """A LangChain ``BaseRetriever`` over a ragqa index (or over a ragqa ``Retriever`` you built).

    ``index_dir``: the index ``ragqa ingest`` built (None: ``RAGQA_INDEX`` / ``ragqa.toml`` /
    ``.ragqa``, as the CLI resolves it). ``mode``: "dense", "bm25" or "hybrid". ``k``: documents
    per query. ``groups``: the caller's access groups. ``filters``: ``retrieval.types.Filters``
    (or a dict of its fields). ``retriever``: a ready ragqa retriever, e.g. ``RAG(...).retriever``,
    used instead of opening ``index_dir`` (not serialised).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, validate_assignment=True)

    index_dir: Path | None = None
    mode: str = "hybrid"
    k: int = 4
    groups: list[str] = Field(default_factory=list)
    filters: Filters | None = None
    retriever: Retriever | None = Field(default=None, exclude=True, repr=False)

    _opened: tuple[Path | None, str, Retriever] | None = PrivateAttr(default=None)  # (index_dir, mode, it)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        return check_mode(v)

    @field_validator("k")
    @classmethod
    def _k(cls, v: int) -> int:
        return check_top_k(v)

    @field_validator("groups", mode="before")
    @classmethod
    def _groups(cls, v: Any) -> list[str]:
        return check_groups(v)

    @field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, v: Any) -> Any:
        return as_filters(v)

    @field_validator("retriever", mode="before")
    @classmethod
    def _retriever(cls, v: Any) -> Any:
        if v is not None and not isinstance(v, Retriever):
            raise ValueError(
                f"retriever must be a ragqa Retriever (retrieve(query, top_k, filters, groups) -> list[Hit]), "
                f"got {type(v).__name__}"
            )
        return v

    @classmethod
    def from_rag(cls, rag: Any, **fields: Any) -> RagqaLangChainRetriever:
        """Reuse a ``rag_app.RAG``'s retriever (its mode, depth, weights and reranker)."""
        return cls(retriever=rag.retriever, **fields)

    @property
    def ragqa_retriever(self) -> Retriever:
        """The ragqa retriever queries go to: the given one, or one opened on first use."""
        if self.retriever is not None:
            return self.retriever
        with self._lock:
            # Reopen when index_dir or mode was reassigned since the last query.
            if self._opened is None or self._opened[:2] != (self.index_dir, self.mode):
                self._opened = (self.index_dir, self.mode, open_retriever(self.index_dir, self.mode))
            return self._opened[2]

    def _search(self, query: str, kwargs: dict[str, Any]) -> list[Document]:
        unknown = sorted(set(kwargs) - set(CALL_KWARGS) - _IGNORED_KWARGS)
        if unknown:
            raise TypeError(
                f"unexpected keyword arguments {unknown} for {type(self).__name__}.invoke; "
                f"allowed: {', '.join(CALL_KWARGS)}"
            )
        k = check_top_k(kwargs["k"]) if kwargs.get("k") is not None else self.k
        groups: Sequence[str] = check_groups(kwargs["groups"]) if kwargs.get("groups") is not None else self.groups
        filters = as_filters(kwargs["filters"]) if kwargs.get("filters") is not None else self.filters
        hits = self.ragqa_retriever.retrieve(query, top_k=k, filters=filters, groups=groups)
        return [hit_to_document(h) for h in hits[:k]]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self._search(query, kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # ragqa retrieval is blocking (SQLite, Chroma, numpy): run it off the event loop.
        return await run_in_executor(None, self._search, query, kwargs)

