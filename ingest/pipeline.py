"""Incremental, crash-safe ingestion: files -> blocks -> chunks -> vectors + BM25 terms.

How a run stays correct when it is killed (SIGKILL included) at any point:

1. The SQLite catalog is the commit point. A document's new chunk rows, the deletion of its old
   rows and its new fingerprint land in one transaction (a savepoint inside a group commit).
2. Vectors are upserted into Chroma *before* that commit; chunk ids are derived from content and
   position, so re-upserting the same chunk is idempotent.
3. Old vectors are deleted from Chroma *after* the commit.
4. Every run starts by reconciling Chroma with the catalog: vectors whose id the catalog does not
   know are deleted (leftovers of steps 2/3), and documents whose vectors are missing are marked
   stale so this run re-indexes them.
5. The BM25 index is derived from the catalog and rebuilt when the catalog's generation moved.

So after a kill, a re-run converges to exactly the chunk set of an uninterrupted run.

Throughput: a background thread loads, chunks and tokenises (for BM25) while the main thread
embeds batches that span documents, so small documents still fill the embedder's batches.
"""

from __future__ import annotations

import fcntl
import fnmatch
import hashlib
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import Catalog, DocumentRecord
from .settings import IndexSettings
from .types import Chunk, DocumentMeta

HASH_BLOCK = 1 << 20  # bytes read at a time when hashing a file: bounded memory for huge files
COMMIT_EVERY_DOCS = 64
COMMIT_EVERY_SECONDS = 5.0
SKIP_DIRS = {".git", ".hg", ".svn", ".ragqa", "__pycache__", "node_modules", ".venv"}


_PAUSE_AT = os.environ.get("RAGQA_TEST_PAUSE_AT", "")  # "<checkpoint>:<nth>", crash tests only


def _checkpoint(name: str, _counts: dict[str, int] = {}) -> None:  # noqa: B006 - a deliberate counter
    """Crash-test hook: with RAGQA_TEST_PAUSE_AT=name:n, the n-th time execution reaches this point
    the process says so on stderr and waits, so a test can SIGKILL it exactly here."""
    if not _PAUSE_AT:
        return
    want, _, nth = _PAUSE_AT.partition(":")
    if want != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(nth or 1):
        import sys

        sys.stderr.write(f"RAGQA-PAUSED {name}\n")
        sys.stderr.flush()
        time.sleep(3600)


class UsageError(ValueError):
    """Bad arguments (exit code 2): a path that does not exist, a bad setting."""


class IngestBusyError(RuntimeError):
    """Another ingest holds the index's lock."""


@dataclass
class IngestReport:
    files_seen: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    files_failed: list[dict[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_deleted: int = 0
    orphans_removed: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    index_dir: str = ""
    embedder: str = ""

    @property
    def exit_code(self) -> int:
        return 3 if self.files_failed else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "files_seen": self.files_seen,
            "files_indexed": self.files_indexed,
            "files_unchanged": self.files_unchanged,
            "files_deleted": self.files_deleted,
            "files_failed": self.files_failed,
            "chunks_added": self.chunks_added,
            "chunks_deleted": self.chunks_deleted,
            "orphans_removed": self.orphans_removed,
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "index_dir": self.index_dir,
            "embedder": self.embedder,
        }


# --------------------------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def make_doc_id(root: Path, source: str) -> str:
    """Stable id of a document: its root and its path below it (16 hex chars)."""
    return hashlib.sha256(f"{root.as_posix()}\0{source}".encode()).hexdigest()[:16]


IGNORE_FILE = ".ragqaignore"


def read_ignore_patterns(root: Path) -> list[str]:
    """Patterns from ``<root>/.ragqaignore``: one glob per line (``#`` comments), matched against
    the path relative to the root and against the file name (``qa.jsonl``, ``drafts/*``)."""
    f = root / IGNORE_FILE
    if not root.is_dir() or not f.is_file():
        return []
    lines = (ln.strip() for ln in f.read_text(encoding="utf-8", errors="replace").splitlines())
    return [ln.rstrip("/") + ("/*" if ln.endswith("/") else "") for ln in lines if ln and not ln.startswith("#")]


def is_ignored(rel: str, patterns: Sequence[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def discover(root: Path, is_skipped: Callable[[Path], bool]) -> Iterator[Path]:
    """Files under ``root`` in a stable order, skipping VCS/index folders, hidden files and
    what ``.ragqaignore`` names."""
    if root.is_file():
        yield root
        return
    patterns = read_ignore_patterns(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name.startswith(".") or is_skipped(p):
                continue
            if patterns and is_ignored(p.relative_to(root).as_posix(), patterns):
                continue
            yield p


def source_of(path: Path, root: Path) -> str:
    return path.name if root.is_file() else path.relative_to(root).as_posix()


# --------------------------------------------------------------------------------------------
# the producer: load + chunk + tokenise, one document after another, in a background thread
# --------------------------------------------------------------------------------------------
@dataclass
class _DocJob:
    path: Path
    root: Path
    meta: DocumentMeta
    fingerprint: str


@dataclass
class _DocStart:
    job: _DocJob


@dataclass
class _ChunkItem:
    job: _DocJob
    chunk: Chunk
    terms: list[str]


@dataclass
class _DocEnd:
    job: _DocJob
    n_chunks: int


@dataclass
class _DocFailed:
    job: _DocJob
    error: str


_DONE = object()


def _produce(jobs: Sequence[_DocJob], out: queue.Queue[Any], chunk_fn: Callable[[DocumentMeta, Path], Iterator[Chunk]],
             tokenize_many: Callable[[list[str]], list[list[str]]], stop: threading.Event) -> None:
    try:
        for job in jobs:
            if stop.is_set():
                return
            out.put(_DocStart(job))
            n = 0
            try:
                pending: list[Chunk] = []
                for c in chunk_fn(job.meta, job.path):
                    pending.append(c)
                    if len(pending) >= 16:
                        for pc, terms in zip(pending, tokenize_many([p.embedding_text() for p in pending]), strict=True):
                            out.put(_ChunkItem(job, pc, terms))
                        n += len(pending)
                        pending = []
                    if stop.is_set():
                        return
                if pending:
                    for pc, terms in zip(pending, tokenize_many([p.embedding_text() for p in pending]), strict=True):
                        out.put(_ChunkItem(job, pc, terms))
                    n += len(pending)
                if n == 0:
                    out.put(_DocFailed(job, "no text found in the file (empty document or only images)"))
                else:
                    out.put(_DocEnd(job, n))
            except Exception as e:  # one bad file never stops the run
                out.put(_DocFailed(job, _describe(e)))
    finally:
        out.put(_DONE)


def _describe(e: BaseException) -> str:
    from .loaders import LoadError

    if isinstance(e, LoadError):
        return str(e.reason)
    if isinstance(e, FileNotFoundError):
        return "file disappeared while reading"
    if isinstance(e, PermissionError):
        return "permission denied: make the file readable or exclude it"
    if isinstance(e, MemoryError):
        return "out of memory while reading this file"
    return f"{type(e).__name__}: {e}"


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------
class _IndexLock:
    def __init__(self, index_dir: Path) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        self._f = (index_dir / "ingest.lock").open("a+")

    def __enter__(self) -> _IndexLock:
        try:
            fcntl.flock(self._f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._f.close()
            raise IngestBusyError("another ragqa ingest is running on this index; wait for it to finish") from None
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._f, fcntl.LOCK_UN)
        self._f.close()


def reconcile(catalog: Catalog, store: Any) -> int:
    """Make Chroma agree with the catalog. Returns the number of orphan vectors removed."""
    in_store = store.all_ids()
    in_catalog = catalog.all_chunk_ids()
    orphans = in_store - in_catalog
    if orphans:
        store.delete(sorted(orphans))
    missing = in_catalog - in_store
    if missing:
        rows = catalog.db.execute(
            f"SELECT DISTINCT doc_id FROM chunks WHERE id IN ({','.join('?' * min(len(missing), 900))})",
            sorted(missing)[:900],
        ).fetchall()
        stale = {r[0] for r in rows}
        if len(missing) > 900:  # rare: many vectors lost; look them all up in slices
            ms = sorted(missing)
            for i in range(900, len(ms), 900):
                part = ms[i : i + 900]
                stale |= {r[0] for r in catalog.db.execute(
                    f"SELECT DISTINCT doc_id FROM chunks WHERE id IN ({','.join('?' * len(part))})", part)}
        catalog.mark_stale(stale)
    return len(orphans)


class Ingestor:
    """Wires settings to the pipeline pieces. ``run()`` does the work."""

    def __init__(self, settings: IndexSettings, *, progress: bool = False) -> None:
        self.settings = settings
        self.progress = progress

    def run(self, paths: Sequence[Path | str], *, prune: bool = True, reindex: bool = False) -> IngestReport:
        from .analysis import get_analyzer
        from .chunking import ChunkingConfig, chunk_document
        from .embedders import get_embedder
        from .keyword import KeywordIndex
        from .loaders import load_blocks
        from .store import ChromaStore

        t0 = time.perf_counter()
        s = self.settings
        roots = [Path(p).expanduser() for p in paths]
        if not roots:
            raise UsageError("nothing to ingest: give at least one file or folder")
        for r in roots:
            if not r.exists():
                raise UsageError(f"path not found: {r}")
        roots = [r.resolve() for r in roots]

        defaults = IndexSettings()
        with _IndexLock(s.index_dir):
            catalog = Catalog(s.index_dir)
            spec, collection = s.embedder, s.collection
            if not reindex:  # an index remembers its embedder (e.g. a tuned one) and collection
                spec = catalog.recorded("embedder_spec", s.embedder, defaults.embedder)
                collection = catalog.recorded("collection", s.collection, defaults.collection)
            embedder = get_embedder(spec)
            analyzer = get_analyzer(s.analyzer)
            cfg = ChunkingConfig(max_tokens=min(s.chunk_tokens, embedder.max_tokens), overlap_tokens=s.chunk_overlap)
            report = IngestReport(index_dir=str(s.index_dir), embedder=embedder.model_id)
            store = ChromaStore(s.index_dir, collection, s.chroma_url)
            if reindex:
                recorded = catalog.recorded("collection", s.collection, defaults.collection)
                if recorded != collection:  # a re-embedded collection: drop it too
                    ChromaStore(s.index_dir, recorded, s.chroma_url).reset()
                catalog.close()
                for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
                    (s.index_dir / name).unlink(missing_ok=True)
                shutil.rmtree(s.index_dir / "keyword", ignore_errors=True)
                store.reset()
            catalog.initialise(embedder_id=embedder.model_id, dim=embedder.dim, analyzer=analyzer.name,
                               chunking=cfg.fingerprint(), embedder_spec=spec, collection=collection)
            report.orphans_removed = reconcile(catalog, store)

            jobs, seen = self._plan(roots, catalog, report, cfg.fingerprint() + analyzer.name)

            def chunk_fn(meta: DocumentMeta, path: Path) -> Iterator[Chunk]:
                return chunk_document(meta, load_blocks(path), embedder.count_tokens, cfg)

            self._index(jobs, chunk_fn, analyzer.tokenize_many, embedder, catalog, store, report)

            if prune:
                self._prune(roots, seen, catalog, store, report)

            _checkpoint("before_keyword")
            KeywordIndex(s.index_dir).ensure_fresh(catalog)
            catalog.close()
        report.seconds = time.perf_counter() - t0
        return report

    # -- planning: which files changed ---------------------------------------------------------
    def _plan(self, roots: Sequence[Path], catalog: Catalog, report: IngestReport,
              config_fp: str) -> tuple[list[_DocJob], set[str]]:
        from .access import is_sidecar, read_access_meta, sidecar_fingerprint
        from .loaders import LoadError, file_type_of

        known = catalog.documents()
        jobs: list[_DocJob] = []
        seen: set[str] = set()
        for root in roots:
            base = root.parent if root.is_file() else root
            for path in discover(root, is_sidecar):
                report.files_seen += 1
                source = source_of(path, root)
                doc_id = make_doc_id(base, source)
                seen.add(doc_id)
                try:
                    ftype = file_type_of(path)
                    access = read_access_meta(path, base)
                    content_hash = file_sha256(path)
                    fingerprint = hashlib.sha256(
                        f"{content_hash}|{sidecar_fingerprint(path, base)}|{config_fp}".encode()
                    ).hexdigest()
                    size = path.stat().st_size
                except LoadError as e:
                    report.files_failed.append({"path": str(path), "error": str(e.reason)})
                    continue
                except (OSError, ValueError) as e:
                    report.files_failed.append({"path": str(path), "error": _describe(e)})
                    continue
                rec = known.get(doc_id)
                if rec is not None and rec.fingerprint == fingerprint:
                    report.files_unchanged += 1
                    continue
                meta = DocumentMeta(
                    doc_id=doc_id, source=source, file_type=ftype, content_hash=content_hash, size_bytes=size,
                    groups=tuple(access.groups), title=access.title, lang=access.lang, date=access.date,
                )
                jobs.append(_DocJob(path, base, meta, fingerprint))
        return jobs, seen

    # -- indexing: the producer/consumer loop ----------------------------------------------------
    def _index(self, jobs: Sequence[_DocJob], chunk_fn: Callable[[DocumentMeta, Path], Iterator[Chunk]],
               tokenize_many: Callable[[list[str]], list[list[str]]], embedder: Any, catalog: Catalog,
               store: Any, report: IngestReport) -> None:
        if not jobs:
            return
        q: queue.Queue[Any] = queue.Queue(maxsize=4 * self.settings.embed_batch)
        stop = threading.Event()
        producer = threading.Thread(target=_produce, args=(jobs, q, chunk_fn, tokenize_many, stop), daemon=True)
        producer.start()
        bar = _progress(len(jobs), self.progress)

        db = catalog.db
        in_tx = False
        open_doc: _DocJob | None = None  # the document whose savepoint is open
        old_ids: dict[str, set[str]] = {}  # doc_id -> its chunk ids before this run
        new_ids: dict[str, set[str]] = {}
        finished: list[_DocJob] = []  # documents ended, waiting for the next commit
        batch: list[_ChunkItem] = []
        ended: dict[str, int] = {}  # doc_id -> chunk count, ended but maybe still in `batch`
        last_commit = time.monotonic()
        docs_since_commit = 0

        def begin() -> None:
            nonlocal in_tx
            if not in_tx:
                db.execute("BEGIN IMMEDIATE")
                in_tx = True

        def open_savepoint(job: _DocJob) -> None:
            nonlocal open_doc
            begin()
            db.execute("SAVEPOINT doc")
            old_ids[job.meta.doc_id] = set(catalog.chunk_ids_of(job.meta.doc_id))
            new_ids[job.meta.doc_id] = set()
            db.execute("DELETE FROM chunks WHERE doc_id=?", (job.meta.doc_id,))
            open_doc = job

        def close_savepoint(job: _DocJob, n_chunks: int) -> None:
            nonlocal open_doc, docs_since_commit
            m = job.meta
            catalog.put_document(db, DocumentRecord(
                doc_id=m.doc_id, root=job.root.as_posix(), source=m.source, file_type=m.file_type,
                content_hash=m.content_hash, fingerprint=job.fingerprint, size_bytes=m.size_bytes,
                n_chunks=n_chunks, groups=m.groups, title=m.title, date=m.date, indexed_at=time.time(),
            ))
            db.execute("RELEASE doc")
            open_doc = None
            finished.append(job)
            docs_since_commit += 1

        def flush() -> None:
            """Embed the batch, upsert vectors, insert rows; close documents that ended."""
            nonlocal batch
            if not batch:
                return
            t = time.perf_counter()
            vecs = embedder.embed_documents([it.chunk.embedding_text() for it in batch])  # (n, dim)
            report.embed_seconds += time.perf_counter() - t
            store.upsert([it.chunk for it in batch], vecs)
            _checkpoint("after_upsert")
            i = 0
            while i < len(batch):
                job = batch[i].job
                j = i
                while j < len(batch) and batch[j].job is job:
                    j += 1
                if open_doc is not job:
                    open_savepoint(job)
                group = batch[i:j]
                catalog.insert_chunks(db, [g.chunk for g in group], [g.terms for g in group])
                new_ids[job.meta.doc_id].update(g.chunk.id for g in group)
                if job.meta.doc_id in ended:
                    # its end marker came after its last chunk, so that chunk is in this group
                    close_savepoint(job, ended.pop(job.meta.doc_id))
                i = j
            batch = []

        def commit() -> None:
            nonlocal in_tx, last_commit, docs_since_commit
            if not in_tx:
                return
            catalog.bump_generation(db)
            db.execute("COMMIT")
            in_tx = False
            _checkpoint("after_commit")
            for job in finished:
                d = job.meta.doc_id
                before, after = old_ids.pop(d, set()), new_ids.pop(d, set())
                stale = before - after
                if stale:
                    store.delete(sorted(stale))
                report.chunks_deleted += len(stale)
                report.chunks_added += len(after - before)
                report.files_indexed += 1
            finished.clear()
            last_commit = time.monotonic()
            docs_since_commit = 0

        try:
            while True:
                item = q.get()
                if item is _DONE:
                    break
                if isinstance(item, _DocStart):
                    continue
                if isinstance(item, _ChunkItem):
                    batch.append(item)
                    if len(batch) >= self.settings.embed_batch:
                        flush()
                elif isinstance(item, _DocEnd):
                    ended[item.job.meta.doc_id] = item.n_chunks
                    if not any(it.job is item.job for it in batch):
                        # all its chunks were flushed already
                        close_savepoint(item.job, ended.pop(item.job.meta.doc_id))
                    bar.update(1)
                elif isinstance(item, _DocFailed):
                    self._fail(item, batch, open_doc, db, store, old_ids, new_ids, report)
                    batch = [it for it in batch if it.job is not item.job]
                    if open_doc is item.job:
                        open_doc = None
                    bar.update(1)
                if open_doc is None and (
                    docs_since_commit >= COMMIT_EVERY_DOCS or time.monotonic() - last_commit > COMMIT_EVERY_SECONDS
                ):
                    commit()
            flush()
            commit()
        except BaseException:
            stop.set()
            if in_tx:
                db.execute("ROLLBACK")
            raise
        finally:
            stop.set()
            bar.close()

    @staticmethod
    def _fail(item: _DocFailed, batch: list[_ChunkItem], open_doc: _DocJob | None, db: Any, store: Any,
              old_ids: dict[str, set[str]], new_ids: dict[str, set[str]], report: IngestReport) -> None:
        d = item.job.meta.doc_id
        if open_doc is item.job:
            # undo this document's rows (restores its previous version) and its new vectors
            db.execute("ROLLBACK TO doc")
            db.execute("RELEASE doc")
            written = new_ids.pop(d, set()) - old_ids.pop(d, set())
            if written:
                store.delete(sorted(written))
        report.files_failed.append({"path": str(item.job.path), "error": item.error})

    # -- pruning ---------------------------------------------------------------------------------
    def _prune(self, roots: Sequence[Path], seen: set[str], catalog: Catalog, store: Any,
               report: IngestReport) -> None:
        gone: list[str] = []
        for root in roots:
            if not root.is_dir():
                continue  # a single file given: nothing else under it to prune
            gone += [d for d in catalog.documents(root=root.as_posix()) if d not in seen]
        if not gone:
            return
        ids: list[str] = []
        for d in gone:
            ids += catalog.chunk_ids_of(d)
        with catalog.transaction() as db:
            for d in gone:
                catalog.delete_document(db, d)
            catalog.bump_generation(db)
        _checkpoint("after_prune_commit")
        store.delete(ids)
        report.files_deleted += len(gone)
        report.chunks_deleted += len(ids)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="ingest", leave=False, dynamic_ncols=True)


def ingest(paths: Sequence[Path | str], settings: IndexSettings | None = None, **kw: Any) -> IngestReport:
    """Python entry point: ``ingest(["docs/"], IndexSettings(index_dir=Path(".ragqa")))``."""
    from .settings import load_index_settings

    return Ingestor(settings or load_index_settings()).run(paths, **kw)
