"""ragqa retrieval as a LlamaIndex retriever.

    from rag_app.adapters.llama_index import RagqaLlamaIndexRetriever

    retriever = RagqaLlamaIndexRetriever(".ragqa", similarity_top_k=4, groups=["hr"])
    nodes = retriever.retrieve("有給休暇は何日？")   # list[NodeWithScore]
    engine = RetrieverQueryEngine.from_args(retriever, llm=...)  # any LlamaIndex pipeline

Each node is a ``TextNode(id_=chunk.id, text=chunk.text, metadata=hit_metadata(hit))`` scored with
the ragqa score. Only ``source``, ``page`` and ``heading`` of that metadata reach the LLM or an
embedder; ids, scores and groups stay out of prompts. Permissions are ragqa's: the caller sees
the chunks of ``groups`` plus "public" (``["*"]`` sees everything), enforced inside the ragqa
retriever. LlamaIndex queries carry no per-call options, so use ``for_groups`` per caller.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as e:  # pragma: no cover - exercised only without llama-index installed
    raise ImportError(
        f"RagqaLlamaIndexRetriever needs llama-index-core ({e}); install it with: pip install 'ragqa[llama-index]'"
    ) from e

from retrieval.types import Filters, Hit, Retriever

from .common import as_filters, check_groups, check_mode, check_top_k, hit_metadata, open_retriever

# hit_metadata keys kept out of the text LlamaIndex gives an LLM or an embedder.
HIDDEN_METADATA = ("chunk_id", "doc_id", "score", "retriever", "rank", "lang", "groups")


def hit_to_node(hit: Hit) -> NodeWithScore:
    node = TextNode(
        id_=hit.chunk.id,
        text=hit.chunk.text,
        metadata=hit_metadata(hit),
        excluded_llm_metadata_keys=list(HIDDEN_METADATA),
        excluded_embed_metadata_keys=list(HIDDEN_METADATA),
    )
    return NodeWithScore(node=node, score=float(hit.score))


class RagqaLlamaIndexRetriever(BaseRetriever):
    """A LlamaIndex ``BaseRetriever`` over a ragqa index (or over a ragqa ``Retriever`` you built).

    ``index_dir``: the index ``ragqa ingest`` built (None: ``RAGQA_INDEX`` / ``ragqa.toml`` /
    ``.ragqa``, as the CLI resolves it). ``mode``: "dense", "bm25" or "hybrid".
    ``similarity_top_k``: nodes per query. ``groups``: the caller's access groups. ``filters``:
    ``retrieval.types.Filters`` or a dict of its fields. ``retriever``: a ready ragqa retriever,
    e.g. ``RAG(...).retriever``, used instead of opening ``index_dir``.
    """

    def __init__(
        self,
        index_dir: Path | str | None = None,
        *,
        mode: str = "hybrid",
        similarity_top_k: int = 4,
        groups: Sequence[str] = (),
        filters: Filters | dict[str, Any] | None = None,
        retriever: Retriever | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        if retriever is not None and not isinstance(retriever, Retriever):
            raise TypeError(
                f"retriever must be a ragqa Retriever (retrieve(query, top_k, filters, groups) -> list[Hit]), "
                f"got {type(retriever).__name__}"
            )
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.mode = check_mode(mode)
        self.similarity_top_k = check_top_k(similarity_top_k, "similarity_top_k")
        self.groups = tuple(check_groups(groups))
        self.filters = as_filters(filters)
        self._ragqa = retriever
        self._lock = threading.Lock()
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @classmethod
    def from_rag(cls, rag: Any, **kwargs: Any) -> RagqaLlamaIndexRetriever:
        """Reuse a ``rag_app.RAG``'s retriever (its mode, depth, weights and reranker)."""
        return cls(retriever=rag.retriever, **kwargs)

    @property
    def ragqa_retriever(self) -> Retriever:
        """The ragqa retriever queries go to: the given one, or one opened on first use."""
        with self._lock:
            if self._ragqa is None:
                self._ragqa = open_retriever(self.index_dir, self.mode)
            return self._ragqa

    def for_groups(self, groups: Sequence[str]) -> RagqaLlamaIndexRetriever:
        """The same retriever (sharing the opened index) for a caller with ``groups``."""
        return RagqaLlamaIndexRetriever(
            self.index_dir, mode=self.mode, similarity_top_k=self.similarity_top_k, groups=groups,
            filters=self.filters, retriever=self.ragqa_retriever, callback_manager=self.callback_manager,
            verbose=self._verbose,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.ragqa_retriever.retrieve(
            query_bundle.query_str, top_k=self.similarity_top_k, filters=self.filters, groups=self.groups
        )
        return [hit_to_node(h) for h in hits[: self.similarity_top_k]]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        import asyncio

        # ragqa retrieval is blocking (SQLite, Chroma, numpy): run it off the event loop.
        return await asyncio.to_thread(self._retrieve, query_bundle)
