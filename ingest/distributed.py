"""Distributed ingest on Ray Data: ``ragqa ingest --ray [ADDRESS]`` (extra ``ragqa[ray]``).

What runs where:

- **The driver** (the process that runs ``ragqa ingest --ray``) does every step of a local ingest
  except load, chunk and embed: the ingest lock, reconciling Chroma with the catalog, planning
  (which files changed), the catalog writes (SQLite, the commit point), pruning and the BM25 index.
- **Ray tasks** (any node, ``load_cpus`` CPUs each): one per document, load + chunk + BM25 terms.
- **Ray actors** (``workers`` of them, ``cpus_per_worker`` CPUs and encoder threads each): embed
  batches of chunks that span documents and upsert their vectors into the **Chroma server**, then
  pass the rows on to the driver without the vectors.

Every node reads the files by the driver's path (a shared mount) and reaches the Chroma server by
its URL. Rows come back in plan order (Ray Data's ``preserve_order``), so the driver consumes the
same per-document stream as a local ingest, and the crash guarantees of ``ingest.pipeline`` hold
unchanged: vectors land before the catalog commit that makes them visible, chunk ids come from
content and position (a retried batch upserts the same ids), and the next run deletes vectors no
committed row knows. A killed worker's task is retried by Ray (actors restart); a killed driver
ends its Ray job, and the next run repairs the index.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import math
import os
import pickle
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .embedders.sentence_transformer import available_cores
from .pipeline import (
    EMPTY_DOCUMENT,
    ChunkItem,
    DocEnd,
    DocFailed,
    DocJob,
    OpenIndex,
    StreamItem,
    UsageError,
    chunk_file,
    crash_point,
    describe_error,
)

INSTALL_HINT = 'pip install "ragqa[ray]" (or: pip install "ray[data]==2.60.0")'
MISSING_RAY = f"ragqa ingest --ray needs Ray Data: {INSTALL_HINT}"
MAX_BLOCKS = 2000  # Ray Data blocks the plan is cut into: one document each up to this many
FORWARDED_ENV = ("RAGQA_", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")  # variables every Ray worker gets


@dataclass(frozen=True)
class RayIngestConfig:
    """Where and how wide a distributed ingest runs.

    ``address``: None joins the cluster in ``RAY_ADDRESS``, else starts a Ray instance for this run;
    ``auto`` joins the one ``ray start`` runs on this machine; or a cluster address (``HOST:6379``,
    ``ray://HOST:10001``). ``workers``: encoder
    actors; 0 sizes the pool to the cluster's CPUs, leaving ``load_cpus`` for the load tasks.
    """

    address: str | None = None
    workers: int = 0
    cpus_per_worker: int = 1
    load_cpus: float = 0.5

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0: as many as the cluster's CPUs allow), got {self.workers}")
        if self.cpus_per_worker < 1:
            raise ValueError(f"cpus_per_worker must be >= 1, got {self.cpus_per_worker}")
        if not 0 < self.load_cpus <= 64:
            raise ValueError(f"load_cpus must be in (0, 64], got {self.load_cpus}")

    def pool_size(self, cluster_cpus: float) -> int:
        """The encoder actors for a cluster of ``cluster_cpus``; UsageError when they cannot all
        start beside one load task (Ray would wait for CPUs forever)."""
        room = cluster_cpus - self.load_cpus
        n = self.workers or max(1, int(room // self.cpus_per_worker))
        if n * self.cpus_per_worker > room:
            raise UsageError(
                f"{n} encoder worker(s) × {self.cpus_per_worker} CPU + {self.load_cpus} CPU for loading need "
                f"{n * self.cpus_per_worker + self.load_cpus:g} CPUs; the Ray cluster has {cluster_cpus:g}. "
                "Use fewer --ray-workers, or add nodes (ray start --address ...)")
        return n


# ------------------------------------------------------------------------------ rows
# One row per chunk, then one per document end or failure; every row has every column (one schema).
def _row(doc: int, kind: str, payload: bytes = b"", n: int = 0, error: str = "") -> dict[str, Any]:
    return {"doc": doc, "kind": kind, "payload": payload, "n": n, "error": error, "embed_s": 0.0}


@functools.lru_cache(maxsize=4)
def _token_counter(spec: str) -> Any:
    from .embedders import get_embedder

    return get_embedder(spec).count_tokens


@functools.lru_cache(maxsize=4)
def _analyzer(name: str) -> Any:
    from .analysis import get_analyzer

    return get_analyzer(name)


def chunk_document_row(row: dict[str, Any], *, embedder_spec: str, analyzer: str, chunking: Any) -> list[dict[str, Any]]:
    """The load task: one planned document (``row["job"]``, a pickled DocJob) -> its chunk rows
    (payload: pickled (Chunk, BM25 terms)) and an end row, or one failed row."""
    doc, job = int(row["doc"]), pickle.loads(row["job"])
    try:
        chunks = list(chunk_file(job.meta, job.path, count_tokens=_token_counter(embedder_spec), config=chunking))
        if not chunks:
            return [_row(doc, "failed", error=EMPTY_DOCUMENT)]
        terms = _analyzer(analyzer).tokenize_many([c.embedding_text() for c in chunks])
    except Exception as e:  # one bad file never stops the run
        return [_row(doc, "failed", error=describe_error(e))]
    rows = [_row(doc, "chunk", pickle.dumps((c, t))) for c, t in zip(chunks, terms, strict=True)]
    return [*rows, _row(doc, "end", n=len(chunks))]


class EncoderActor:
    """The encoder pool's actor: embeds a batch's chunk rows, upserts them into the Chroma server,
    returns the batch as it came (vectors stay in Chroma) with each row's share of the embed time."""

    def __init__(self, embedder_spec: str, threads: int, chroma_url: str, collection: str, index_dir: str) -> None:
        from .embedders import get_embedder
        from .store import ChromaStore

        self.embedder = get_embedder(embedder_spec, threads=threads)
        self.store = ChromaStore(Path(index_dir), collection, chroma_url)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        at = [i for i, kind in enumerate(batch["kind"]) if kind == "chunk"]
        if not at:
            return batch
        chunks = [pickle.loads(batch["payload"][i])[0] for i in at]
        t = time.perf_counter()
        vectors = self.embedder.embed_documents([c.embedding_text() for c in chunks])  # (len(at), dim)
        seconds = time.perf_counter() - t
        self.store.upsert(chunks, vectors)
        crash_point("worker_after_upsert")
        embed_s = batch["embed_s"].copy()
        embed_s[at] = seconds / len(at)
        return {**batch, "embed_s": embed_s}


def stream_item(row: dict[str, Any], jobs: Sequence[DocJob]) -> StreamItem:
    """A result row back into the item the writer consumes (its job object from the plan)."""
    job = jobs[int(row["doc"])]
    if row["kind"] == "chunk":
        chunk, terms = pickle.loads(row["payload"])
        return ChunkItem(job, chunk, list(terms), embed_seconds=float(row["embed_s"]))
    if row["kind"] == "end":
        return DocEnd(job, int(row["n"]))
    return DocFailed(job, str(row["error"]))


# ------------------------------------------------------------------------------ the source
def _require_ray() -> Any:
    try:
        import ray
        import ray.data  # Ray Data is the extra's other half
    except ImportError as e:
        raise ImportError(MISSING_RAY) from e
    return ray


def forwarded_env() -> dict[str, str]:
    """The variables the workers need as this process has them (the index's settings, offline)."""
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}


@contextlib.contextmanager
def ray_session(address: str | None, load_cpus: float = 0.0) -> Iterator[Any]:
    """Ray, initialised for this run (joined or started here) and shut down after; a session the
    caller already opened is used as it is and left open. A Ray started here counts this
    machine's cores plus ``load_cpus`` (rounded up): the encoder actors get every core and the
    light load tasks (~6 % of the work) still fit beside them."""
    ray = _require_ray()
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine
    kw: dict[str, Any] = {}
    if address is None and not os.environ.get("RAY_ADDRESS"):  # a new instance, never some other local one
        address = "local"
        kw = {"include_dashboard": False, "num_cpus": available_cores() + math.ceil(load_cpus)}
    ray.init(address=address, runtime_env={"env_vars": forwarded_env()}, logging_level=logging.WARNING,
             log_to_driver=False, **kw)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # per-dataset INFO lines would bury the report
    try:
        yield ray
    finally:
        ray.shutdown()


class RaySource:
    """The DocumentSource of a distributed ingest (``Ingestor(settings, source=RaySource(cfg))``):
    Ray tasks load and chunk, an actor pool embeds and upserts into the index's Chroma server."""

    writes_vectors = True

    def __init__(self, config: RayIngestConfig | None = None, *, embed_batch: int = 32) -> None:
        if importlib.util.find_spec("ray") is None:  # fail before planning, not after the files were hashed
            raise ImportError(MISSING_RAY)
        self.config = config or RayIngestConfig()
        self.embed_batch = embed_batch

    @contextlib.contextmanager
    def stream(self, jobs: Sequence[DocJob], ix: OpenIndex) -> Iterator[Iterator[StreamItem]]:
        url = ix.store.url
        if not url:
            raise UsageError("ragqa ingest --ray writes vectors to a Chroma server that every node reaches: start one "
                             "(chroma run --path DIR --host 0.0.0.0 --port 8000) and pass --chroma-url "
                             "http://HOST:8000 (or set RAGQA_CHROMA_URL / chroma_url in ragqa.toml)")
        with ray_session(self.config.address, self.config.load_cpus) as ray:
            ds = self._dataset(ray, jobs, ix, url)
            yield (stream_item(row, jobs) for row in ds.iter_rows())

    def _dataset(self, ray: Any, jobs: Sequence[DocJob], ix: OpenIndex, url: str) -> Any:
        cfg = self.config
        workers = cfg.pool_size(float(ray.cluster_resources().get("CPU", 0)))
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # the writer needs each document's rows in plan order
        ctx.enable_progress_bars = False
        rows = [{"doc": i, "job": pickle.dumps(job)} for i, job in enumerate(jobs)]
        load = functools.partial(chunk_document_row, embedder_spec=ix.embedder_spec, analyzer=ix.analyzer.name,
                                 chunking=ix.chunking)
        return (ray.data.from_items(rows, override_num_blocks=min(len(rows), MAX_BLOCKS))
                .flat_map(load, num_cpus=cfg.load_cpus)
                .map_batches(EncoderActor, batch_size=self.embed_batch, batch_format="numpy",
                             compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cfg.cpus_per_worker,
                             fn_constructor_kwargs={"embedder_spec": ix.embedder_spec, "threads": cfg.cpus_per_worker,
                                                    "chroma_url": url, "collection": ix.store.collection_name,
                                                    "index_dir": str(ix.catalog.index_dir)}))


__all__ = ["INSTALL_HINT", "EncoderActor", "RayIngestConfig", "RaySource", "chunk_document_row", "ray_session",
           "stream_item"]
