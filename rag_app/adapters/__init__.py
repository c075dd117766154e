"""ragqa retrieval as a LangChain or LlamaIndex retriever.

    from rag_app.adapters import RagqaLangChainRetriever    # pip install 'ragqa[langchain]'
    from rag_app.adapters import RagqaLlamaIndexRetriever   # pip install 'ragqa[llama-index]'

The framework is imported only when its adapter is first asked for, so importing ``rag_app`` or
this package never loads langchain or llama_index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import hit_metadata, open_retriever

if TYPE_CHECKING:
    from .langchain import RagqaLangChainRetriever
    from .llama_index import RagqaLlamaIndexRetriever

__all__ = ["RagqaLangChainRetriever", "RagqaLlamaIndexRetriever", "hit_metadata", "open_retriever"]

_LAZY = {"RagqaLangChainRetriever": ".langchain", "RagqaLlamaIndexRetriever": ".llama_index"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
