"""The index catalog: the source of truth for what an index holds.

One SQLite file (``catalog.sqlite``, WAL mode) with:

- ``meta``: format version, embedder id and dimension, BM25 analyzer, chunking fingerprint,
  and a ``generation`` counter bumped by every committed change (derived indexes such as the
  BM25 file record the generation they were built from and are rebuilt when it differs);
- ``documents``: one row per source file with its content hash and fingerprint;
- ``chunks``: every chunk's text, metadata (its document's context line included) and BM25 terms.

Format 2 added ``chunks.doc_context``. A format-1 catalog is migrated in place when opened (the
column is added, empty: its chunks were embedded and indexed without a context, so an empty one
is the truth about them), and the next ingest re-indexes every file, because the document context
is part of the chunking fingerprint in each file's fingerprint. Migrating rather than refusing
keeps such an index answering until then (a refusal would make every old index fail until a
full ``--reindex``).

Chroma holds the vectors. A document's rows change in one SQLite transaction, which is the
commit point of an ingest; everything else (Chroma, the BM25 file) is reconciled against this
file, which is what makes a SIGKILL at any point recoverable.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .types import Chunk

FORMAT_VERSION = 2
CATALOG_FILE = "catalog.sqlite"
TERM_SEP = "\x1f"  # joins BM25 terms in one TEXT column; analyzers never emit it
_MAX_PARAMS = 500  # ids bound per IN (...) query: below SQLite's bound-parameter limit (999 in old builds)
_DOC_SAVEPOINT = "doc"  # the savepoint of the document being replaced inside a group commit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    source TEXT NOT NULL,
    file_type TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    n_chunks INTEGER NOT NULL,
    groups TEXT NOT NULL,
    title TEXT,
    date TEXT,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_root ON documents(root);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER,
    heading_path TEXT NOT NULL,
    sheet TEXT,
    lang TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    groups TEXT NOT NULL,
    file_type TEXT NOT NULL,
    date TEXT,
    n_tokens INTEGER NOT NULL,
    terms TEXT NOT NULL,
    doc_context TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
"""

_CHUNK_COLS = (
    "id, doc_id, ordinal, text, source, start, \"end\", page, heading_path, sheet, lang, "
    "content_hash, groups, file_type, date, n_tokens, doc_context"
)


class IndexMismatchError(RuntimeError):
    """An index was opened with settings it was not built with."""


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    doc_id: str
    root: str
    source: str
    file_type: str
    content_hash: str
    fingerprint: str
    size_bytes: int
    n_chunks: int
    groups: tuple[str, ...]
    title: str | None
    date: str | None
    indexed_at: float


@dataclass(frozen=True, slots=True)
class IndexInfo:
    format_version: int
    embedder_id: str
    dim: int
    analyzer: str
    chunking: str
    generation: int
    documents: int
    chunks: int


def chunk_from_row(row: Sequence[Any]) -> Chunk:
    return Chunk(
        id=row[0],
        doc_id=row[1],
        ordinal=row[2],
        text=row[3],
        source=row[4],
        start=row[5],
        end=row[6],
        page=row[7],
        heading_path=tuple(json.loads(row[8])),
        sheet=row[9],
        lang=row[10],
        content_hash=row[11],
        groups=tuple(json.loads(row[12])),
        file_type=row[13],
        date=row[14],
        n_tokens=row[15],
        doc_context=row[16],
    )


class Catalog:
    """Thin wrapper over the SQLite file. Not shared between threads: open one per thread."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / CATALOG_FILE
        self._db: sqlite3.Connection | None = None

    # -- connection -------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a committed document survives power loss
            db.executescript(_SCHEMA)
            _migrate(db)
            self._db = db
        return self._db

    def exists(self) -> bool:
        return self.path.is_file()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def remove(self) -> None:
        """Close the connection and delete the SQLite file with its WAL and shared-memory files
        (``--reindex``): the next use starts an empty catalog."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    # -- transactions -----------------------------------------------------------------------
    def begin(self) -> None:
        """Open a write transaction. IMMEDIATE takes the write lock now, so a second writer waits
        here (up to the 30 s busy timeout) rather than failing at its first write."""
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        self.db.execute("ROLLBACK")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.begin()
        try:
            yield self.db
        except BaseException:
            self.rollback()
            raise
        self.commit()

    # A group commit holds many documents; each one's replacement is a savepoint inside it, so a
    # document that fails half-way is undone alone (its previous rows come back).
    def begin_document(self, doc_id: str) -> list[str]:
        """Inside an open transaction: start replacing ``doc_id`` (a savepoint), delete its chunk
        rows and return their ids (ordinal order). End with :meth:`end_document` or
        :meth:`undo_document`; one document at a time."""
        self.db.execute(f"SAVEPOINT {_DOC_SAVEPOINT}")
        before = self.chunk_ids_of(doc_id)
        self.db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        return before

    def end_document(self, rec: DocumentRecord) -> None:
        """Record the document begun with :meth:`begin_document` and release its savepoint."""
        self.put_document(self.db, rec)
        self.db.execute(f"RELEASE {_DOC_SAVEPOINT}")

    def undo_document(self) -> None:
        """Roll the document begun with :meth:`begin_document` back: its previous rows return."""
        self.db.execute(f"ROLLBACK TO {_DOC_SAVEPOINT}")
        self.db.execute(f"RELEASE {_DOC_SAVEPOINT}")

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                   (key, value))

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def bump_generation(self, db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO meta(key, value) VALUES('generation', '1') "
                   "ON CONFLICT(key) DO UPDATE SET value=CAST(value AS INTEGER) + 1")

    def recorded(self, key: str, requested: str, default: str) -> str:
        """A setting the index recorded (``embedder_spec``, ``collection``) wins over the default;
        an explicitly requested non-default value wins over the record."""
        if not self.exists():
            return requested
        rec = self.get_meta(key)
        if not rec:
            return requested
        if requested == default:
            return rec
        # a re-embedded collection is named "<requested>-<8 hex>": still the one asked for
        if key == "collection" and re.fullmatch(re.escape(requested) + r"-[0-9a-f]{8}", rec):
            return rec
        return requested

    def initialise(self, *, embedder_id: str, dim: int, analyzer: str, chunking: str,
                   embedder_spec: str = "", collection: str = "") -> None:
        """Write the manifest of a new index, or check it against an existing one."""
        existing = self.get_meta("format_version")
        if existing is None:
            with self.transaction() as db:
                for k, v in {
                    "format_version": str(FORMAT_VERSION),
                    "embedder_id": embedder_id,
                    "dim": str(dim),
                    "analyzer": analyzer,
                    "chunking": chunking,
                    "embedder_spec": embedder_spec,
                    "collection": collection,
                    "generation": "0",
                    "created_at": str(time.time()),
                    "index_uid": uuid.uuid4().hex,
                }.items():
                    self.set_meta(db, k, v)
            return
        self.check(embedder_id=embedder_id, dim=dim, analyzer=analyzer)
        if self.get_meta("chunking") != chunking:
            # Chunk settings changed: every document's fingerprint includes them, so each one is
            # re-chunked by this run; record the new settings.
            with self.transaction() as db:
                self.set_meta(db, "chunking", chunking)

    def index_uid(self) -> str:
        """This index's own id (32 hex), made once: its Chroma collection records it as its owner,
        so a second index pointed at the same server collection is refused, not merged (an index
        from before the id gets one here)."""
        uid = self.get_meta("index_uid")
        if uid is None:
            uid = uuid.uuid4().hex
            with self.transaction() as db:
                self.set_meta(db, "index_uid", uid)
        return uid

    def check(self, *, embedder_id: str | None = None, dim: int | None = None, analyzer: str | None = None) -> None:
        version = self.get_meta("format_version")
        if version is None:
            raise IndexMismatchError(
                f"{self.index_dir} is not a ragqa index (no catalog); build it with: ragqa ingest PATH --index {self.index_dir}"
            )
        if int(version) != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index {self.index_dir} has format version {version}, this ragqa reads version {FORMAT_VERSION}; "
                f"rebuild it with: ragqa ingest PATH --index {self.index_dir} --reindex"
            )
        have = {"embedder": self.get_meta("embedder_id"), "dim": self.get_meta("dim"), "analyzer": self.get_meta("analyzer")}
        want = {"embedder": embedder_id, "dim": None if dim is None else str(dim), "analyzer": analyzer}
        for key, w in want.items():
            if w is not None and have[key] != w:
                raise IndexMismatchError(
                    f"index {self.index_dir} was built with {key} {have[key]!r}, not {w!r}; either use the same "
                    f"{key} or rebuild the index with: ragqa ingest PATH --index {self.index_dir} --reindex"
                    + (f" --embedder <spec for {w}>" if key == "embedder" else "")
                )

    def info(self) -> IndexInfo:
        n_docs = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        n_chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return IndexInfo(
            format_version=int(self.get_meta("format_version") or 0),
            embedder_id=self.get_meta("embedder_id") or "",
            dim=int(self.get_meta("dim") or 0),
            analyzer=self.get_meta("analyzer") or "",
            chunking=self.get_meta("chunking") or "",
            generation=self.generation(),
            documents=int(n_docs),
            chunks=int(n_chunks),
        )

    # -- documents ----------------------------------------------------------------------------
    def documents(self, root: str | None = None) -> dict[str, DocumentRecord]:
        q = "SELECT doc_id, root, source, file_type, content_hash, fingerprint, size_bytes, n_chunks, groups, title, date, indexed_at FROM documents"
        rows = self.db.execute(q + (" WHERE root=?" if root else ""), (root,) if root else ()).fetchall()
        return {
            r[0]: DocumentRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(json.loads(r[8])), r[9], r[10], r[11])
            for r in rows
        }

    def chunk_ids_of(self, doc_id: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id=? ORDER BY ordinal", (doc_id,))]

    def chunk_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def language_counts(self) -> list[tuple[str, int]]:
        """[(lang, chunks)] of the indexed chunks, most chunks first."""
        rows = self.db.execute("SELECT lang, COUNT(*) AS n FROM chunks GROUP BY lang ORDER BY n DESC, lang").fetchall()
        return [(str(r[0]), int(r[1])) for r in rows]

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM chunks")}

    def doc_ids_of_chunks(self, ids: Iterable[str]) -> set[str]:
        """The documents that hold any of the chunk ``ids`` (ids the catalog lacks are ignored)."""
        ids = sorted(set(ids))
        out: set[str] = set()
        for i in range(0, len(ids), _MAX_PARAMS):
            part = ids[i : i + _MAX_PARAMS]
            q = f"SELECT DISTINCT doc_id FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            out.update(r[0] for r in self.db.execute(q, part))
        return out

    def insert_chunks(self, db: sqlite3.Connection, chunks: Sequence[Chunk], terms: Sequence[Sequence[str]]) -> None:
        db.executemany(
            f"INSERT OR REPLACE INTO chunks({_CHUNK_COLS}, terms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (c.id, c.doc_id, c.ordinal, c.text, c.source, c.start, c.end, c.page,
                 json.dumps(list(c.heading_path), ensure_ascii=False), c.sheet, c.lang, c.content_hash,
                 json.dumps(list(c.groups)), c.file_type, c.date, c.n_tokens, c.doc_context, TERM_SEP.join(t))
                for c, t in zip(chunks, terms, strict=True)
            ],
        )

    def put_document(self, db: sqlite3.Connection, rec: DocumentRecord) -> None:
        db.execute(
            "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (rec.doc_id, rec.root, rec.source, rec.file_type, rec.content_hash, rec.fingerprint, rec.size_bytes,
             rec.n_chunks, json.dumps(list(rec.groups)), rec.title, rec.date, rec.indexed_at),
        )

    def delete_document(self, db: sqlite3.Connection, doc_id: str) -> None:
        db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))

    def delete_chunks(self, db: sqlite3.Connection, ids: Iterable[str]) -> None:
        db.executemany("DELETE FROM chunks WHERE id=?", [(i,) for i in ids])

    def mark_stale(self, doc_ids: Iterable[str]) -> None:
        """Force re-indexing of these documents on the next run (their vectors went missing)."""
        with self.transaction() as db:
            db.executemany("UPDATE documents SET fingerprint='stale' WHERE doc_id=?", [(d,) for d in doc_ids])

    # -- reading chunks -------------------------------------------------------------------------
    def get_chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        for i in range(0, len(ids), _MAX_PARAMS):
            part = ids[i : i + _MAX_PARAMS]
            q = f"SELECT {_CHUNK_COLS} FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            for row in self.db.execute(q, part):
                out[row[0]] = chunk_from_row(row)
        return out

    def iter_chunks(self) -> Iterator[Chunk]:
        for row in self.db.execute(f"SELECT {_CHUNK_COLS} FROM chunks ORDER BY doc_id, ordinal"):
            yield chunk_from_row(row)

    def iter_terms(self) -> Iterator[tuple[str, list[str]]]:
        """(chunk id, BM25 terms) in rowid order."""
        for cid, terms in self.db.execute("SELECT id, terms FROM chunks ORDER BY rowid"):
            yield cid, _split_terms(terms)

    def terms_of_source(self, source: str) -> list[list[str]]:
        """The BM25 terms of each chunk whose ``source`` is exactly ``source`` (ordinal order)."""
        rows = self.db.execute("SELECT terms FROM chunks WHERE source=? ORDER BY doc_id, ordinal", (source,))
        return [_split_terms(t) for (t,) in rows]


def _migrate(db: sqlite3.Connection) -> None:
    """Format 1 -> 2 in place: ``chunks.doc_context`` added (empty), the version recorded."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}
    if "doc_context" in columns:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}  # another process may have won
        if "doc_context" not in columns:
            db.execute("ALTER TABLE chunks ADD COLUMN doc_context TEXT NOT NULL DEFAULT ''")
            db.execute("UPDATE meta SET value='2' WHERE key='format_version' AND value='1'")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _split_terms(joined: str) -> list[str]:
    return joined.split(TERM_SEP) if joined else []
