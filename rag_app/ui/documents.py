"""The documents an index holds, who may see each one, and where its file lies.

Listed by ``rag_app.index_status.list_documents`` (what ``RAG.documents`` returns), re-read only
when the catalog's generation moved. Who may see a document is the group half of the
retrieval's visibility rule (``retrieval.permissions.is_visible``), the same rule every search
applies to the document's chunks; nothing here decides visibility another way.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.settings import IndexSettings
from rag_app.index_status import list_documents
from rag_app.types import DocumentInfo
from retrieval.permissions import is_visible, normalise_groups
from retrieval.types import ALL_GROUPS

__all__ = ["DocumentInfo", "DocumentLibrary", "FilterChoices", "filter_choices", "visible_to"]


def visible_to(docs: Sequence[DocumentInfo], groups: Sequence[str]) -> list[DocumentInfo]:
    user = normalise_groups(groups)
    return [d for d in docs if is_visible(d.groups, user)]


class DocumentLibrary:
    """The documents of the index at ``index_dir`` (cheap: nothing opened until asked). The list
    is read again only when the catalog's generation moved (an ingest committed). Thread-safe."""

    def __init__(self, index_dir: Path | str) -> None:
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._cached: tuple[int, list[DocumentInfo]] | None = None

    def all(self) -> list[DocumentInfo]:
        from ingest.catalog import Catalog

        cat = Catalog(self.index_dir)
        if not cat.exists():
            return []
        try:
            generation = cat.generation()
        finally:
            cat.close()
        with self._lock:
            if self._cached is not None and self._cached[0] == generation:
                return self._cached[1]
        docs = list_documents(IndexSettings(index_dir=self.index_dir), ALL_GROUPS)  # what RAG.documents lists
        with self._lock:
            self._cached = (generation, docs)
        return docs

    def visible(self, groups: Sequence[str]) -> list[DocumentInfo]:
        return visible_to(self.all(), groups)

    def get(self, doc_id: str, groups: Sequence[str]) -> DocumentInfo | None:
        """The document when ``groups`` may see it; None when it is unknown or not theirs."""
        return next((d for d in self.visible(groups) if d.doc_id == doc_id), None)

    def file_for(self, doc_id: str, groups: Sequence[str]) -> Path | None:
        """The original file of a document ``groups`` may see, when it is still on disk."""
        doc = self.get(doc_id, groups)
        if doc is None:
            return None
        p = doc.path
        return p if p.is_file() else None


@dataclass(frozen=True, slots=True)
class FilterChoices:
    """What the filter widgets offer: only values of documents the user may see."""

    folders: tuple[str, ...]
    file_types: tuple[str, ...]
    first_date: str | None
    last_date: str | None


def filter_choices(docs: Sequence[DocumentInfo]) -> FilterChoices:
    folders: set[str] = set()
    for d in docs:
        parts = PurePosixPath(d.source).parts[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    dates = sorted(d.date for d in docs if d.date)
    return FilterChoices(folders=tuple(sorted(folders)), file_types=tuple(sorted({d.file_type for d in docs})),
                         first_date=dates[0] if dates else None, last_date=dates[-1] if dates else None)
