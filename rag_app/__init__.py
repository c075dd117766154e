"""ragqa's answering layer: ``from rag_app import RAG``.

Importing this package loads no model, SDK or torch; they load on first use.
"""

from .config import AnswerSettings, RAGConfig, load_config
from .rag import RAG, AnswerEvent
from .types import Answer, Citation, GenerationResult, Generator, Message, StreamEvent

__all__ = [
    "RAG",
    "Answer",
    "AnswerEvent",
    "AnswerSettings",
    "Citation",
    "GenerationResult",
    "Generator",
    "Message",
    "RAGConfig",
    "StreamEvent",
    "load_config",
]
