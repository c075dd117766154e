"""The documents an index holds, who may see each one, and where its file lies.

Read through the index catalog's public ``documents()`` (one short-lived connection per call:
the catalog is not shared between threads). Who may see a document is the group half of the
retrieval's visibility rule (``retrieval.permissions.is_visible``), the same rule every search
applies to the document's chunks; nothing here decides visibility another way.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from retrieval.permissions import is_visible, normalise_groups


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    doc_id: str
    root: str  # the folder it was ingested from (absolute), or the folder of a file ingested alone
    source: str  # path below ``root``, "/"-separated
    file_type: str
    groups: tuple[str, ...]
    title: str | None
    date: str | None
    n_chunks: int
    size_bytes: int
    indexed_at: float  # seconds since the epoch

    @property
    def path(self) -> Path:
        return Path(self.root) / self.source

    @property
    def name(self) -> str:
        return self.title or PurePosixPath(self.source).name

    @property
    def folder(self) -> str:
        parent = PurePosixPath(self.source).parent.as_posix()
        return "" if parent == "." else parent

    @property
    def indexed(self) -> str:
        return dt.datetime.fromtimestamp(self.indexed_at, dt.UTC).isoformat(timespec="seconds")


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
            with self._lock:
                if self._cached is not None and self._cached[0] == generation:
                    return self._cached[1]
            recs = cat.documents()
        finally:
            cat.close()
        docs = sorted((DocumentInfo(doc_id=r.doc_id, root=r.root, source=r.source, file_type=r.file_type,
                                    groups=tuple(r.groups), title=r.title, date=r.date, n_chunks=r.n_chunks,
                                    size_bytes=r.size_bytes, indexed_at=r.indexed_at) for r in recs.values()),
                      key=lambda d: (d.root, d.source))
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
