"""ragqa's ingestion layer: load -> chunk -> embed -> Chroma + keyword index.

    from ingest import ingest, IndexSettings
    report = ingest(["docs/"], IndexSettings(index_dir=Path(".ragqa")))
"""

from .pipeline import Ingestor, IngestReport, ingest
from .settings import IndexSettings, load_index_settings
from .types import Block, Chunk, Document, DocumentMeta

__all__ = ["Block", "Chunk", "Document", "DocumentMeta", "IndexSettings", "IngestReport", "Ingestor", "ingest",
           "load_index_settings"]
