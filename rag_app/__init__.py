"""ragqa's answering layer and public Python API: ``from rag_app import RAG``.

Everything an embedding application (the Streamlit page, the evaluation harness, a web
service) needs is importable from here: the ``RAG`` facade, its typed results, filters and
groups, index status and ingest reports, the prompt builder, and the errors to catch. The guide
is ``docs/python-api.md``.

Importing this package loads no model, SDK, Chroma or torch; they load on first use.
"""

from ingest.catalog import IndexMismatchError
from ingest.pipeline import IngestBusyError, IngestProgress, IngestReport, UsageError
from ingest.types import Chunk
from retrieval.permissions import parse_filters
from retrieval.types import ALL_GROUPS, PUBLIC_GROUP, Filters, Hit, Retriever

from .config import AnswerSettings, RAGConfig, load_config
from .generators.errors import GeneratorError
from .prompting import (
    CLOSED_BOOK_TEMPLATE_VERSION,
    PROMPT_TEMPLATE_VERSION,
    ContextBlock,
    Prompt,
    build_closed_book_prompt,
    build_prompt,
)
from .rag import RAG, AnswerEvent, Prepared
from .types import (
    ANSWER_SCHEMA_VERSION,
    Answer,
    Citation,
    ContextGenerator,
    DocumentInfo,
    GenerationResult,
    Generator,
    IndexStatus,
    Message,
    StreamEvent,
)

__all__ = [
    "ALL_GROUPS",
    "ANSWER_SCHEMA_VERSION",
    "CLOSED_BOOK_TEMPLATE_VERSION",
    "PROMPT_TEMPLATE_VERSION",
    "PUBLIC_GROUP",
    "RAG",
    "Answer",
    "AnswerEvent",
    "AnswerSettings",
    "Chunk",
    "Citation",
    "ContextBlock",
    "ContextGenerator",
    "DocumentInfo",
    "Filters",
    "GenerationResult",
    "Generator",
    "GeneratorError",
    "Hit",
    "IndexMismatchError",
    "IndexStatus",
    "IngestBusyError",
    "IngestProgress",
    "IngestReport",
    "Message",
    "Prepared",
    "Prompt",
    "RAGConfig",
    "Retriever",
    "StreamEvent",
    "UsageError",
    "build_closed_book_prompt",
    "build_prompt",
    "load_config",
    "parse_filters",
]
