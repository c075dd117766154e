"""One opened index per process, shared by every ``RAG`` over the same index settings.

The evaluation harness runs many ``RAG`` configurations (modes, generators, top-k) over one
index, and a Streamlit process serves many sessions: each ``RAG`` asks here for its reader
instead of opening its own, so the catalog, the BM25 index and the in-memory vector matrix are
loaded once. Readers are counted: the last ``release`` closes one.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from ingest.settings import IndexSettings

if TYPE_CHECKING:
    from retrieval.index import IndexReader

_LOCK = threading.Lock()
_READERS: dict[IndexSettings, tuple[IndexReader, int]] = {}  # key -> (reader, users)


def _key(settings: IndexSettings) -> IndexSettings:
    return replace(settings, index_dir=settings.index_dir.expanduser().resolve())


def acquire(settings: IndexSettings) -> IndexReader:
    """The process's reader for ``settings`` (opened lazily: nothing is read until first use)."""
    from retrieval.index import IndexReader

    key = _key(settings)
    with _LOCK:
        reader, users = _READERS.get(key, (None, 0))
        if reader is None:
            # opened on the absolute path: a reader shared across callers must not follow a later
            # chdir (a relative ".ragqa" would then name another folder for its lazily opened store)
            reader = IndexReader(key)
        _READERS[key] = (reader, users + 1)
        return reader


def release(reader: IndexReader) -> None:
    """One user fewer; the last one closes the reader. A reader not from ``acquire`` is closed."""
    with _LOCK:
        for key, (r, users) in list(_READERS.items()):
            if r is reader:
                if users > 1:
                    _READERS[key] = (r, users - 1)
                    return
                del _READERS[key]
                break
    reader.close()


def users(settings: IndexSettings) -> int:
    """How many ``RAG`` objects hold the reader of ``settings`` (0: not open)."""
    with _LOCK:
        return _READERS.get(_key(settings), (None, 0))[1]
