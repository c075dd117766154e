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
embeds batches that span documents, so small documents still fill the embedder's batches. With
``ingest.distributed`` a Ray cluster loads, chunks, embeds and upserts instead; this process still
plans, writes the catalog (the commit point) and the BM25 index, so the steps above hold there too.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import functools
import hashlib
import itertools
import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .catalog import Catalog, DocumentRecord
from .settings import IndexSettings
from .types import Block, Chunk, DocumentMeta

HASH_BLOCK = 1 << 20  # bytes read at a time when hashing a file: bounded memory for huge files
COMMIT_EVERY_DOCS = 64
TOKENIZE_BATCH = 16  # chunks tokenised (BM25) per analyzer call in the producer thread
PRODUCER_NICE = 10  # the producer thread's niceness above the process's (see _yield_to_the_encoder)
COMMIT_EVERY_SECONDS = 5.0
SKIP_DIRS = {".git", ".hg", ".svn", ".ragqa", "__pycache__", "node_modules", ".venv"}


_PAUSE_AT = os.environ.get("RAGQA_TEST_PAUSE_AT", "")  # "<checkpoint>:<nth>", crash tests only
_PAUSE_FILE = os.environ.get("RAGQA_TEST_PAUSE_FILE", "")  # where the paused process writes its pid


def crash_point(name: str, _counts: dict[str, int] = {}) -> None:  # noqa: B006 - a deliberate counter
    """Crash-test hook: with RAGQA_TEST_PAUSE_AT=name:n, the n-th time execution reaches this point
    the process says so on stderr and waits, so a test can SIGKILL it exactly here. With
    RAGQA_TEST_PAUSE_FILE too, it writes its pid there first, and pauses only while that file does
    not exist yet: a Ray worker restarted after the kill runs on."""
    if not _PAUSE_AT:
        return
    want, _, nth = _PAUSE_AT.partition(":")
    if want != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] != int(nth or 1):
        return
    if _PAUSE_FILE:
        try:
            with open(_PAUSE_FILE, "x", encoding="utf-8") as f:
                f.write(str(os.getpid()))
        except FileExistsError:
            return
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


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """One step of a run, as an ``Ingestor`` progress callback receives it."""

    stage: str  # "plan" (files looked at), "index" (documents indexed or failed), "prune", "bm25"
    done: int  # plan: files to index; index: documents handled so far; prune: documents deleted
    total: int  # plan: files seen; index: documents to index; prune: as done; bm25: 1
    path: str | None = None  # index: the file just handled


ProgressCallback = Callable[[IngestProgress], None]


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


def base_of(root: Path) -> Path:
    """The folder document ids and access sidecars are relative to (a file's own folder)."""
    return root.parent if root.is_file() else root


def document_job(path: Path, root: Path, config_fp: str) -> DocJob:
    """What indexing ``path`` (found under ``root``) needs: its metadata and fingerprint (content
    hash, access sidecars and ``config_fp``). Raises LoadError (unsupported type), OSError and
    ValueError (a bad sidecar)."""
    from .access import read_access_meta, sidecar_fingerprint
    from .loaders import file_type_of, loader_options, loader_version

    base = base_of(root)
    ftype = file_type_of(path)
    access = read_access_meta(path, base)
    content_hash = file_sha256(path)
    version = loader_version(ftype)  # 1 adds nothing: fingerprints from before loader versions stay valid
    loader = f"|loader={version}" if version > 1 else ""
    if options := loader_options(ftype):
        loader += f"|{options}"
    fingerprint = hashlib.sha256(
        f"{content_hash}|{sidecar_fingerprint(path, base)}|{config_fp}{loader}".encode()).hexdigest()
    meta = DocumentMeta(
        doc_id=make_doc_id(base, source_of(path, root)), source=source_of(path, root), file_type=ftype,
        content_hash=content_hash, size_bytes=path.stat().st_size, groups=tuple(access.groups), title=access.title,
        lang=access.lang, date=access.date,
    )
    return DocJob(path, base, meta, fingerprint)


# --------------------------------------------------------------------------------------------
# the item stream: per planned document, its chunks then its end (or its failure)
# --------------------------------------------------------------------------------------------
@dataclass
class DocJob:
    path: Path
    root: Path
    meta: DocumentMeta
    fingerprint: str


@dataclass
class ChunkItem:
    job: DocJob
    chunk: Chunk
    terms: list[str]  # the chunk's BM25 terms
    embed_seconds: float = 0.0  # its share of the embedding time when the source embedded it


@dataclass
class DocEnd:
    job: DocJob
    n_chunks: int


@dataclass
class DocFailed:
    job: DocJob
    error: str


StreamItem = ChunkItem | DocEnd | DocFailed
EMPTY_DOCUMENT = "no text found in the file (empty document or only images)"


class DocumentSource(Protocol):
    """Turns the planned documents into the stream the writer consumes: per document, in plan
    order, its ChunkItems then a DocEnd, or a DocFailed. ``writes_vectors``: True when the source
    has already upserted each chunk's vector into the index's Chroma before yielding it (Ray
    workers); False when the writer embeds and upserts (local ingest)."""

    writes_vectors: bool

    def stream(self, jobs: Sequence[DocJob], ix: OpenIndex) -> AbstractContextManager[Iterator[StreamItem]]:
        ...


class ThreadedSource:
    """Local ingest: a background thread loads, chunks and tokenises (for BM25) one document after
    another while the caller's thread embeds (``writes_vectors`` False). ``queue_size``: items held
    ahead of the writer (bounded memory)."""

    writes_vectors = False

    def __init__(self, queue_size: int = 128) -> None:
        self.queue_size = queue_size

    @contextlib.contextmanager
    def stream(self, jobs: Sequence[DocJob], ix: OpenIndex) -> Iterator[Iterator[StreamItem]]:
        q: queue.Queue[Any] = queue.Queue(maxsize=self.queue_size)
        stop = threading.Event()
        producer = threading.Thread(target=_produce, args=(jobs, q, ix.chunk_fn(), ix.analyzer.tokenize_many, stop),
                                    daemon=True)
        producer.start()
        try:
            yield iter(q.get, _DONE)
        finally:
            stop.set()


_DONE = object()


def _produce(jobs: Sequence[DocJob], out: queue.Queue[Any], chunk_fn: Callable[[DocumentMeta, Path], Iterator[Chunk]],
             tokenize_many: Callable[[list[str]], list[list[str]]], stop: threading.Event) -> None:
    """The producer thread: per job, in order, its ChunkItems, then DocEnd or DocFailed; _DONE
    last, also when ``stop`` is set."""
    _yield_to_the_encoder()
    try:
        for job in jobs:
            if stop.is_set():
                return
            try:
                n = _produce_document(job, out, chunk_fn, tokenize_many, stop)
                if n is None:
                    return
                out.put(DocFailed(job, EMPTY_DOCUMENT) if n == 0 else DocEnd(job, n))
            except Exception as e:  # one bad file never stops the run
                out.put(DocFailed(job, describe_error(e)))
    finally:
        out.put(_DONE)


def _yield_to_the_encoder() -> None:
    """Lower the calling thread's scheduling priority by PRODUCER_NICE (Linux: niceness is per
    thread). The encoder's threads fill every core while the producer parses: at equal priority
    each preemption stalls a whole parallel encoder step, and the encoder lost more time than
    the producer used (BENCHMARKS.md "PDF tables from PDFium's geometry; the producer thread
    below the encoder"). At a lower priority the producer runs in the encoder's gaps, and at
    full speed whenever the queue runs dry and the encoder waits for it. Elsewhere, or when not
    permitted, nothing changes."""
    if sys.platform != "linux":
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + PRODUCER_NICE)
    except OSError:
        pass


def _produce_document(job: DocJob, out: queue.Queue[Any], chunk_fn: Callable[[DocumentMeta, Path], Iterator[Chunk]],
                      tokenize_many: Callable[[list[str]], list[list[str]]], stop: threading.Event) -> int | None:
    """Load + chunk + tokenise one document onto ``out``; its chunk count, None when stopped."""
    n = 0
    pending: list[Chunk] = []
    for c in chunk_fn(job.meta, job.path):
        pending.append(c)
        if len(pending) >= TOKENIZE_BATCH:
            n += _put_chunks(job, pending, tokenize_many, out)
            pending = []
        if stop.is_set():
            return None
    if pending:
        n += _put_chunks(job, pending, tokenize_many, out)
    return n


def _put_chunks(job: DocJob, chunks: list[Chunk], tokenize_many: Callable[[list[str]], list[list[str]]],
                out: queue.Queue[Any]) -> int:
    for c, terms in zip(chunks, tokenize_many([c.embedding_text() for c in chunks]), strict=True):
        out.put(ChunkItem(job, c, terms))
    return len(chunks)


def describe_error(e: BaseException) -> str:
    """Why a file could not be indexed, in the words the report gives the user."""
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
class IndexLock:
    """The index's ingest lock (``<index>/ingest.lock``, an exclusive ``flock``): one writer
    (ingest or re-embed) per index at a time; a second one fails at once."""

    def __init__(self, index_dir: Path) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        self._f = (index_dir / "ingest.lock").open("a+")

    def __enter__(self) -> IndexLock:
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
        catalog.mark_stale(catalog.doc_ids_of_chunks(missing))
    return len(orphans)


def resolve_roots(paths: Sequence[Path | str]) -> list[Path]:
    """The absolute paths to ingest; UsageError when none is given or one does not exist."""
    roots = [Path(p).expanduser() for p in paths]
    if not roots:
        raise UsageError("nothing to ingest: give at least one file or folder")
    for r in roots:
        if not r.exists():
            raise UsageError(f"path not found: {r}")
    return [r.resolve() for r in roots]


def _check_loader_settings() -> None:
    """A bad loader setting (e.g. $RAGQA_PDF_TABLES) fails the run once, before any file is read,
    rather than every file of its type."""
    from .loaders import check_loader_options

    try:
        check_loader_options()
    except ValueError as e:
        raise UsageError(str(e)) from e


def chunk_file(meta: DocumentMeta, path: Path, *, count_tokens: Callable[[str], int],
               config: Any) -> Iterator[Chunk]:
    """Load ``path`` and chunk it (``config``: a ChunkingConfig; tokens counted by the embedder),
    every chunk with the document's context line when ``config.doc_context`` (read from the
    metadata and the first pages, ``ingest.doc_context``)."""
    from .chunking import chunk_document
    from .doc_context import describe_document, lead_blocks
    from .loaders import load_blocks

    blocks: Iterator[Block] = load_blocks(path)
    context = ""
    if config.doc_context:
        lead, blocks = lead_blocks(blocks)
        context = describe_document(meta, lead).text()
    return chunk_document(meta, blocks, count_tokens, config, context)


@dataclass(frozen=True)
class OpenIndex:
    """The pieces of one run, chosen from the settings and what the index recorded."""

    catalog: Catalog
    store: Any  # ChromaStore
    embedder: Any  # Embedder
    analyzer: Any  # Analyzer
    chunking: Any  # ChunkingConfig
    embedder_spec: str  # what built ``embedder`` (ingest.embedders.get_embedder): workers build their own

    @property
    def plan_fingerprint(self) -> str:
        """Part of every document fingerprint: a change re-chunks and re-tokenises every file."""
        return str(self.chunking.fingerprint()) + str(self.analyzer.name)

    def chunk_fn(self) -> Callable[[DocumentMeta, Path], Iterator[Chunk]]:
        return functools.partial(chunk_file, count_tokens=self.embedder.count_tokens, config=self.chunking)


class Ingestor:
    """Wires settings to the pipeline pieces. ``run()`` does the work: open the index, reconcile
    it with Chroma, plan (which files changed), index them, prune deleted ones, refresh BM25."""

    def __init__(self, settings: IndexSettings, *, progress: bool | ProgressCallback = False,
                 source: DocumentSource | None = None) -> None:
        self.settings = settings
        self.progress = progress  # True: a terminal bar over the files indexed; a callback: every step
        # where load + chunk (+ embed) run: this process by default, a Ray cluster (ingest.distributed)
        self.source = source or ThreadedSource(queue_size=4 * settings.embed_batch)

    def _step(self, stage: str, done: int, total: int, path: str | None = None) -> None:
        if callable(self.progress):
            self.progress(IngestProgress(stage, done, total, path))

    def run(self, paths: Sequence[Path | str], *, prune: bool = True, reindex: bool = False) -> IngestReport:
        from .keyword import KeywordIndex

        t0 = time.perf_counter()
        roots = resolve_roots(paths)
        _check_loader_settings()
        with IndexLock(self.settings.index_dir):
            ix = self._open(reindex)
            report = IngestReport(index_dir=str(self.settings.index_dir), embedder=ix.embedder.model_id)
            report.orphans_removed = reconcile(ix.catalog, ix.store)
            jobs, seen = self._plan(roots, ix.catalog, report, ix.plan_fingerprint)
            self._step("plan", len(jobs), report.files_seen)
            self._index(jobs, ix, report)
            if prune:
                self._prune(roots, seen, ix.catalog, ix.store, report)
                self._step("prune", report.files_deleted, report.files_deleted)
            crash_point("before_keyword")
            KeywordIndex(self.settings.index_dir).ensure_fresh(ix.catalog)
            self._step("bm25", 1, 1)
            ix.catalog.close()
        report.seconds = time.perf_counter() - t0
        return report

    # -- opening: embedder, analyzer, chunking, store; the manifest written or checked ----------
    def _open(self, reindex: bool) -> OpenIndex:
        from .analysis import get_analyzer
        from .chunking import ChunkingConfig
        from .doc_context import doc_context_enabled
        from .embedders import get_embedder
        from .store import ChromaStore

        s, defaults = self.settings, IndexSettings()
        catalog = Catalog(s.index_dir)
        spec, collection = s.embedder, s.collection
        if not reindex:  # an index remembers its embedder (e.g. a tuned one) and collection
            spec = catalog.recorded("embedder_spec", s.embedder, defaults.embedder)
            collection = catalog.recorded("collection", s.collection, defaults.collection)
        embedder = get_embedder(spec)
        analyzer = get_analyzer(s.analyzer)
        cfg = ChunkingConfig(max_tokens=min(s.chunk_tokens, embedder.max_tokens), overlap_tokens=s.chunk_overlap,
                             doc_context=doc_context_enabled())
        store = ChromaStore(s.index_dir, collection, s.chroma_url)
        if reindex:
            self._wipe(catalog, store)
        catalog.initialise(embedder_id=embedder.model_id, dim=embedder.dim, analyzer=analyzer.name,
                           chunking=cfg.fingerprint(), embedder_spec=spec, collection=collection)
        store.claim(catalog.index_uid(), s.index_dir, take_over=reindex)  # before any vector is touched
        return OpenIndex(catalog, store, embedder, analyzer, cfg, spec)

    def _wipe(self, catalog: Catalog, store: Any) -> None:
        """``--reindex``: drop the catalog, the BM25 files and the vectors (a re-embedded
        collection of the index too)."""
        from .keyword import KeywordIndex
        from .store import ChromaStore

        s, defaults = self.settings, IndexSettings()
        recorded = catalog.recorded("collection", s.collection, defaults.collection)
        if recorded != store.collection_name:
            ChromaStore(s.index_dir, recorded, s.chroma_url).reset()
        catalog.remove()
        shutil.rmtree(KeywordIndex(s.index_dir).dir, ignore_errors=True)
        store.reset()

    # -- planning: which files changed ---------------------------------------------------------
    def _plan(self, roots: Sequence[Path], catalog: Catalog, report: IngestReport,
              config_fp: str) -> tuple[list[DocJob], set[str]]:
        """(jobs for the new and changed files, doc ids of every file seen); files that cannot
        be read go to ``report.files_failed``."""
        from .access import is_sidecar
        from .loaders import LoadError

        known = catalog.documents()
        jobs: list[DocJob] = []
        seen: set[str] = set()
        for root in roots:
            for path in discover(root, is_sidecar):
                report.files_seen += 1
                doc_id = make_doc_id(base_of(root), source_of(path, root))
                seen.add(doc_id)
                try:
                    job = document_job(path, root, config_fp)
                except LoadError as e:
                    report.files_failed.append({"path": str(path), "error": str(e.reason)})
                    continue
                except (OSError, ValueError) as e:
                    report.files_failed.append({"path": str(path), "error": describe_error(e)})
                    continue
                rec = known.get(doc_id)
                if rec is not None and rec.fingerprint == job.fingerprint:
                    report.files_unchanged += 1
                    continue
                jobs.append(job)
        return jobs, seen

    # -- indexing: the source loads + chunks (+ embeds), this thread writes ------------------------
    def _index(self, jobs: Sequence[DocJob], ix: OpenIndex, report: IngestReport) -> None:
        if not jobs:
            return
        ticker = _DocumentTicker(len(jobs), _progress(len(jobs), self.progress is True), self._step)
        embedder = None if self.source.writes_vectors else ix.embedder
        writer = _BatchWriter(ix.catalog, ix.store, embedder, report, self.settings.embed_batch)
        try:
            with self.source.stream(jobs, ix) as items:
                _consume(items, writer, ticker)
            writer.flush()
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        finally:
            ticker.close()

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
        crash_point("after_prune_commit")
        store.delete(ids)
        report.files_deleted += len(gone)
        report.chunks_deleted += len(ids)


def _consume(items: Iterator[StreamItem], writer: _BatchWriter, ticker: _DocumentTicker) -> None:
    """Feed the source's items to ``writer``, committing between documents when due."""
    for item in items:
        if isinstance(item, ChunkItem):
            writer.add(item)
        elif isinstance(item, DocEnd):
            writer.end_document(item)
            ticker.tick(item.job)
        else:
            writer.fail_document(item)
            ticker.tick(item.job)
        writer.commit_if_due()


class _DocumentTicker:
    """Counts documents handled (ended or failed) onto the bar and the progress callback."""

    def __init__(self, total: int, bar: Any, step: Callable[[str, int, int, str | None], None]) -> None:
        self.total, self.bar, self.step = total, bar, step
        self.done = 0

    def tick(self, job: DocJob) -> None:
        self.done += 1
        self.bar.update(1)
        self.step("index", self.done, self.total, str(job.path))

    def close(self) -> None:
        self.bar.close()


def runs_by_job(batch: Sequence[ChunkItem]) -> Iterator[tuple[DocJob, list[ChunkItem]]]:
    """Consecutive items of one document, in order: (its job, its items)."""
    for _, group in itertools.groupby(batch, key=lambda it: id(it.job)):
        items = list(group)
        yield items[0].job, items


class _BatchWriter:
    """The writing side of one ingest run (main thread only).

    Chunks are embedded in batches that span documents; a batch's vectors are upserted into
    Chroma first (by the source itself when ``embedder`` is None), then its rows go into the
    catalog inside the open group commit, one savepoint per document. Every COMMIT_EVERY_DOCS documents or COMMIT_EVERY_SECONDS (between documents)
    the group is committed; only then are the replaced vectors of its documents deleted.
    """

    def __init__(self, catalog: Catalog, store: Any, embedder: Any | None, report: IngestReport,
                 embed_batch: int) -> None:
        self.catalog, self.store, self.embedder, self.report = catalog, store, embedder, report
        self.embed_batch = embed_batch
        self._in_tx = False
        self._open: DocJob | None = None  # the document whose savepoint is open
        self._old_ids: dict[str, set[str]] = {}  # doc_id -> its chunk ids before this run
        self._new_ids: dict[str, set[str]] = {}  # doc_id -> its chunk ids written by this run
        self._finished: list[DocJob] = []  # documents ended, waiting for the next commit
        self._batch: list[ChunkItem] = []  # chunks waiting to be embedded
        self._ended: dict[str, int] = {}  # doc_id -> chunk count: ended, its last chunks maybe still in _batch
        self._last_commit = time.monotonic()
        self._docs_since_commit = 0

    # -- the source's items ----------------------------------------------------------------------
    def add(self, item: ChunkItem) -> None:
        self.report.embed_seconds += item.embed_seconds
        self._batch.append(item)
        if len(self._batch) >= self.embed_batch:
            self.flush()

    def end_document(self, item: DocEnd) -> None:
        self._ended[item.job.meta.doc_id] = item.n_chunks
        if not any(it.job is item.job for it in self._batch):  # all its chunks were flushed already
            self._close(item.job, self._ended.pop(item.job.meta.doc_id))

    def fail_document(self, item: DocFailed) -> None:
        """Drop the document's pending chunks; if its rows were begun, undo them (its indexed
        version stays) and delete the vectors this run wrote for it."""
        d = item.job.meta.doc_id
        if self._open is item.job:
            self.catalog.undo_document()
            written = self._new_ids.pop(d, set()) - self._old_ids.pop(d, set())
            if written:
                self.store.delete(sorted(written))
            self._open = None
        self._batch = [it for it in self._batch if it.job is not item.job]
        self.report.files_failed.append({"path": str(item.job.path), "error": item.error})

    # -- phases: embed, write vectors, write rows --------------------------------------------------
    def flush(self) -> None:
        """Embed the batch, upsert its vectors, insert its rows; close documents that ended."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        if self.embedder is not None:
            self.store.upsert([it.chunk for it in batch], self._embed(batch))
            crash_point("after_upsert")
        for job, items in runs_by_job(batch):
            self._write_rows(job, items)

    def _embed(self, batch: Sequence[ChunkItem]) -> Any:
        assert self.embedder is not None
        t = time.perf_counter()
        vecs = self.embedder.embed_documents([it.chunk.embedding_text() for it in batch])  # (n, dim)
        self.report.embed_seconds += time.perf_counter() - t
        return vecs

    def _write_rows(self, job: DocJob, items: Sequence[ChunkItem]) -> None:
        d = job.meta.doc_id
        if self._open is not job:
            self._begin(job)
        self.catalog.insert_chunks(self.catalog.db, [it.chunk for it in items], [it.terms for it in items])
        self._new_ids[d].update(it.chunk.id for it in items)
        if d in self._ended:  # its end marker came after its last chunk, so that chunk is in this run
            self._close(job, self._ended.pop(d))

    def _begin(self, job: DocJob) -> None:
        if not self._in_tx:
            self.catalog.begin()
            self._in_tx = True
        d = job.meta.doc_id
        self._old_ids[d] = set(self.catalog.begin_document(d))
        self._new_ids[d] = set()
        self._open = job

    def _close(self, job: DocJob, n_chunks: int) -> None:
        m = job.meta
        self.catalog.end_document(DocumentRecord(
            doc_id=m.doc_id, root=job.root.as_posix(), source=m.source, file_type=m.file_type,
            content_hash=m.content_hash, fingerprint=job.fingerprint, size_bytes=m.size_bytes,
            n_chunks=n_chunks, groups=m.groups, title=m.title, date=m.date, indexed_at=time.time(),
        ))
        self._open = None
        self._finished.append(job)
        self._docs_since_commit += 1

    # -- commit ------------------------------------------------------------------------------------
    def commit_if_due(self) -> None:
        """Commit between documents once enough documents or seconds have gone by."""
        due = (self._docs_since_commit >= COMMIT_EVERY_DOCS
               or time.monotonic() - self._last_commit > COMMIT_EVERY_SECONDS)
        if self._open is None and due:
            self.commit()

    def commit(self) -> None:
        """Commit the group (the commit point), then delete the vectors its documents replaced."""
        if not self._in_tx:
            return
        self.catalog.bump_generation(self.catalog.db)
        self.catalog.commit()
        self._in_tx = False
        crash_point("after_commit")
        for job in self._finished:
            d = job.meta.doc_id
            before, after = self._old_ids.pop(d, set()), self._new_ids.pop(d, set())
            stale = before - after
            if stale:
                self.store.delete(sorted(stale))
            self.report.chunks_deleted += len(stale)
            self.report.chunks_added += len(after - before)
            self.report.files_indexed += 1
        self._finished.clear()
        self._last_commit = time.monotonic()
        self._docs_since_commit = 0

    def abort(self) -> None:
        """Roll back the open group (its upserted vectors are orphans the next run removes)."""
        if self._in_tx:
            self.catalog.rollback()
            self._in_tx = False


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
