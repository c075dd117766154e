"""Distributed ingest (`ragqa ingest --ray`) on a real local Ray cluster (a head and a worker node,
two encoder actors) writing to a real Chroma server, with real SIGKILLs of the driver and of a worker.

Every run is compared with a local ingest of the same files: the catalog's chunks, the document
fingerprints, the BM25 ids and the server's vector ids must be exactly the same sets.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from corpora import mutate, write_corpus
from servers import REPO, chroma_server, ray_cluster

from ingest.catalog import Catalog
from ingest.distributed import RayIngestConfig, RaySource
from ingest.keyword import KeywordIndex
from ingest.pipeline import Ingestor, IngestReport, UsageError
from ingest.settings import IndexSettings
from ingest.store import ChromaStore

pytestmark = pytest.mark.server

pytest.importorskip("ray", reason='distributed ingest needs Ray Data: pip install "ragqa[ray]"')


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    # 1 + 2 CPUs: two encoder actors of 1 CPU each, beside the load tasks' 0.5
    with ray_cluster(head_cpus=1, worker_cpus=[2]) as address:
        yield address


def settings(index: Path, url: str | None, collection: str) -> IndexSettings:
    return IndexSettings(index_dir=index, embedder="hashing", chunk_tokens=64, chunk_overlap=8, embed_batch=8,
                         chroma_url=url, collection=collection)


def run_ray(s: IndexSettings, corpus: Path, address: str) -> IngestReport:
    source = RaySource(RayIngestConfig(address=address, workers=2), embed_batch=s.embed_batch)
    return Ingestor(s, source=source).run([corpus])


def snapshot(s: IndexSettings) -> dict[str, Any]:
    """What must agree with a local ingest: catalog chunks, documents, BM25 ids, vector ids."""
    cat = Catalog(s.index_dir)
    chunks = {c.id: (c.source, c.ordinal, c.text) for c in cat.iter_chunks()}
    docs = {d.source: (d.fingerprint, d.n_chunks) for d in cat.documents().values()}
    kw = KeywordIndex(s.index_dir)
    assert kw.is_fresh(cat), "keyword index is stale after a finished run"
    bm25 = list(kw.load(cat).ids)
    store = ChromaStore(s.index_dir, s.collection, s.chroma_url)
    ids, n = store.all_ids(), store.count()
    cat.close()
    assert len(bm25) == len(set(bm25)) and n == len(ids), "duplicate ids"
    assert ids == set(chunks) == set(bm25), "Chroma, BM25 and the catalog disagree"
    return {"chunks": chunks, "docs": docs, "store": ids}


def local_reference(tmp_path: Path, corpus: Path) -> dict[str, Any]:
    s = settings(tmp_path / f"ref-{uuid.uuid4().hex[:6]}", None, "ragqa")
    Ingestor(s).run([corpus])
    return snapshot(s)


def fresh(tmp_path: Path, url: str) -> IndexSettings:
    """An index of its own on the shared server (a collection per test)."""
    return settings(tmp_path / "idx", url, f"t-{uuid.uuid4().hex[:10]}")


def test_ray_ingest_equals_a_local_ingest_then_updates_and_deletes_the_same(
        tmp_path: Path, chroma_url: str, ray_address: str) -> None:
    corpus = tmp_path / "c"
    write_corpus(corpus)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "fake.pdf").write_bytes(b"not a pdf at all")
    s = fresh(tmp_path, chroma_url)
    r1 = run_ray(s, corpus, ray_address)
    assert (r1.files_seen, r1.files_indexed) == (26, 24)
    failed = {Path(f["path"]).name: f["error"] for f in r1.files_failed}
    assert set(failed) == {"empty.txt", "fake.pdf"} and "PDF" in failed["fake.pdf"]
    assert r1.embed_seconds > 0  # measured on the workers
    assert not (s.index_dir / "chroma").exists(), "vectors must go to the server, not a local store"
    assert snapshot(s) == local_reference(tmp_path, corpus)

    mutate(corpus)  # one file changed, one deleted, one new
    r2 = run_ray(s, corpus, ray_address)
    assert (r2.files_indexed, r2.files_deleted, r2.files_unchanged) == (2, 1, 22)
    assert snapshot(s) == local_reference(tmp_path, corpus)


def test_without_a_chroma_server_it_says_how_to_start_one(tmp_path: Path, ray_address: str) -> None:
    corpus = tmp_path / "c"
    write_corpus(corpus, n=1)
    with pytest.raises(UsageError, match=r"Chroma server.*chroma run --path"):
        run_ray(settings(tmp_path / "idx", None, "ragqa"), corpus, ray_address)


def test_more_workers_than_the_cluster_has_cpus_for_is_refused_with_the_numbers(
        tmp_path: Path, chroma_url: str, ray_address: str) -> None:
    corpus = tmp_path / "c"
    write_corpus(corpus, n=1)
    s = fresh(tmp_path, chroma_url)
    source = RaySource(RayIngestConfig(address=ray_address, workers=3), embed_batch=8)
    with pytest.raises(UsageError, match=r"3 encoder worker\(s\).*need 3.5 CPUs; the Ray cluster has 3"):
        Ingestor(s, source=source).run([corpus])


# -- real kills ---------------------------------------------------------------------------------
_RUNNER = """
import json, sys
from pathlib import Path
from typing import Any
from ingest.distributed import RayIngestConfig, RaySource
from ingest.pipeline import Ingestor
from ingest.settings import IndexSettings
index, corpus, url, collection, address = sys.argv[1:6]
s = IndexSettings(index_dir=Path(index), embedder="hashing", chunk_tokens=64, chunk_overlap=8, embed_batch=8,
                  chroma_url=url, collection=collection)
print("READY", flush=True)
r = Ingestor(s, source=RaySource(RayIngestConfig(address=address, workers=2), embed_batch=8)).run([Path(corpus)])
print("DONE", json.dumps(r.to_json()), flush=True)
"""


def start_driver(s: IndexSettings, corpus: Path, address: str, pause_at: str, pid_file: Path) -> subprocess.Popen[str]:
    """A `--ray` ingest in its own process that pauses at ``pause_at`` (in the driver or in a Ray
    worker) and writes the paused process's pid to ``pid_file``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAGQA_TEST_PAUSE_AT": pause_at, "RAGQA_TEST_PAUSE_FILE": str(pid_file)}
    return subprocess.Popen([sys.executable, "-c", _RUNNER, str(s.index_dir), str(corpus), str(s.chroma_url),
                             s.collection, address], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def paused_pid(p: subprocess.Popen[str], pid_file: Path, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_file.is_file() and (text := pid_file.read_text().strip()):
            return int(text)
        if p.poll() is not None:
            out, err = p.communicate()
            pytest.fail(f"the ingest ended (code {p.returncode}) before it paused: {out[-500:]} {err[-2000:]}")
        time.sleep(0.2)
    p.kill()
    pytest.fail(f"the ingest never reached its pause point within {timeout:.0f} s")


@pytest.mark.parametrize(("point", "incremental"), [
    ("worker_after_upsert:2", False),  # a worker upserted vectors no commit knows yet
    ("after_commit:1", False),
    ("before_keyword:1", False),
    ("worker_after_upsert:1", True),
    ("after_commit:1", True),
    ("after_prune_commit:1", True),
])
def test_a_killed_driver_leaves_nothing_a_rerun_does_not_repair(
        tmp_path: Path, chroma_url: str, ray_address: str, point: str, incremental: bool) -> None:
    corpus = tmp_path / "c"
    write_corpus(corpus)
    s = fresh(tmp_path, chroma_url)
    if incremental:
        run_ray(s, corpus, ray_address)
        mutate(corpus)
    p = start_driver(s, corpus, ray_address, point, tmp_path / "paused.pid")
    paused_pid(p, tmp_path / "paused.pid")
    os.kill(p.pid, signal.SIGKILL)  # the driver, wherever the pause is
    p.communicate(timeout=60)
    rerun = run_ray(s, corpus, ray_address)
    if point.startswith("worker_after_upsert"):  # the killed run's vectors were there to repair
        assert rerun.orphans_removed > 0
    assert snapshot(s) == local_reference(tmp_path, corpus)


def test_a_killed_worker_is_replaced_and_the_run_finishes_exactly(
        tmp_path: Path, chroma_url: str, ray_address: str) -> None:
    corpus = tmp_path / "c"
    write_corpus(corpus)
    s = fresh(tmp_path, chroma_url)
    p = start_driver(s, corpus, ray_address, "worker_after_upsert:2", tmp_path / "paused.pid")
    worker = paused_pid(p, tmp_path / "paused.pid")
    assert worker != p.pid, "the pause must be in a Ray worker process"
    os.kill(worker, signal.SIGKILL)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0 and "DONE" in out, err[-3000:]
    report = json.loads(out.split("DONE", 1)[1])
    assert report["files_indexed"] == 24 and report["files_failed"] == []
    assert snapshot(s) == local_reference(tmp_path, corpus)


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.3, 0.6])
def test_a_driver_killed_at_a_random_moment_leaves_nothing_a_rerun_does_not_repair(
        tmp_path: Path, chroma_url: str, ray_address: str, fraction: float) -> None:
    """Kills by the clock, not at checkpoints: ``fraction`` of the way through an identical run."""
    corpus = tmp_path / "c"
    write_corpus(corpus, n=40)
    timing = settings(tmp_path / "timing", chroma_url, f"t-{uuid.uuid4().hex[:10]}")
    t = time.perf_counter()
    run_ray(timing, corpus, ray_address)
    work_s = time.perf_counter() - t
    s = fresh(tmp_path, chroma_url)
    p = start_driver(s, corpus, ray_address, "", tmp_path / "unused.pid")
    assert p.stdout is not None and p.stdout.readline().strip() == "READY"  # imports done
    time.sleep(fraction * work_s)
    alive = p.poll() is None
    os.kill(p.pid, signal.SIGKILL)
    out, _ = p.communicate(timeout=60)
    assert alive and "DONE" not in out, f"the ingest finished before the kill at {fraction:.0%} of {work_s:.1f} s"
    run_ray(s, corpus, ray_address)
    assert snapshot(s) == snapshot(timing) == local_reference(tmp_path, corpus)


def test_without_ray_installed_it_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(ImportError, match=r'pip install "ragqa\[ray\]"'):
        RaySource(RayIngestConfig())


def test_the_pool_takes_every_cpu_but_the_load_tasks_share() -> None:
    assert RayIngestConfig().pool_size(3) == 2  # a Ray started here counts cores + 1: two cores, two encoders
    assert RayIngestConfig(cpus_per_worker=2).pool_size(8.5) == 4
    assert RayIngestConfig(workers=1).pool_size(1.5) == 1
    with pytest.raises(ValueError, match="cpus_per_worker must be >= 1"):
        RayIngestConfig(cpus_per_worker=0)


def test_a_bare_ray_flag_starts_ray_for_the_run(tmp_path: Path, chroma_url: str, ray_address: str) -> None:
    """No address and no RAY_ADDRESS: a Ray instance of its own, not the test's cluster, stopped after."""
    corpus = tmp_path / "c"
    write_corpus(corpus, n=2)
    s = fresh(tmp_path, chroma_url)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update({"RAGQA_EMBEDDER": "hashing", "RAGQA_COLLECTION": s.collection, "PYTHONPATH": str(REPO)})
    cmd = [sys.executable, "-c", "from rag_app.cli import main; main()", "ingest", str(corpus), "--index",
           str(s.index_dir), "--chroma-url", chroma_url, "--ray", "--json"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads(p.stdout)["files_indexed"] == 4
    assert len(snapshot(s)["chunks"]) == json.loads(p.stdout)["chunks_added"]


def test_cli_ray_flag_takes_an_optional_address() -> None:
    from rag_app.cli import bare_ray_flag

    assert bare_ray_flag(["ingest", "docs", "--ray"]) == ["ingest", "docs", "--ray=local"]
    assert bare_ray_flag(["ingest", "--ray", "--json", "docs"]) == ["ingest", "--ray=local", "--json", "docs"]
    assert bare_ray_flag(["ingest", "--ray", str(REPO), "x"]) == ["ingest", "--ray=local", str(REPO), "x"]
    assert bare_ray_flag(["ingest", "--ray", "10.0.0.5:6379", "docs"]) == ["ingest", "--ray", "10.0.0.5:6379", "docs"]


def test_cli_ingest_with_ray_against_the_cluster_and_server(tmp_path: Path, chroma_url: str, ray_address: str) -> None:
    corpus = tmp_path / "c"
    write_corpus(corpus, n=3)
    s = fresh(tmp_path, chroma_url)
    env = {**os.environ, "RAGQA_EMBEDDER": "hashing", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", "from rag_app.cli import main; main()", "ingest", str(corpus), "--index",
           str(s.index_dir), "--chroma-url", chroma_url, "--ray", ray_address, "--ray-workers", "2", "--json"]
    env["RAGQA_COLLECTION"] = s.collection
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    assert out["files_indexed"] == 6 and out["chunks_added"] == len(snapshot(s)["chunks"])
    bad = subprocess.run([*cmd[:-5], "--ray-workers", "2", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--ray-workers and --ray-worker-cpus only apply with --ray" in bad.stderr
