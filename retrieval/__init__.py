"""ragqa's retrieval layer: dense (Chroma), BM25, hybrid fusion, reranking, visibility.

    from retrieval import open_index, make_retriever
    r = make_retriever(open_index(".ragqa"), "hybrid")
    hits = r.retrieve("VPN の接続方法", top_k=5, groups=["engineering"])
"""

from .factory import MODES, make_reranker, make_retriever
from .index import IndexReader, open_index
from .types import ALL_GROUPS, Filters, Hit, LexicalCapability, QueryPreparingRetriever, Reranker, Retriever
from .visibility import VisibilityRule

__all__ = ["ALL_GROUPS", "MODES", "Filters", "Hit", "IndexReader", "LexicalCapability", "QueryPreparingRetriever",
           "Reranker", "Retriever", "VisibilityRule", "make_reranker", "make_retriever", "open_index"]
