"""Distributed ingest on Ray (`ragqa ingest --ray`) beside local ingest, on the same files, in one run.

Every variant ingests the same corpus into a fresh index whose vectors go to one Chroma server
started here (`chroma run` on 127.0.0.1), with the default encoder (e5, ONNX Runtime):

- ``local``: ``Ingestor`` in this process (a loader thread + the encoder on every core);
- ``ray WxC``: ``RaySource`` on a Ray cluster started here (one node, ``--cluster-cpus`` logical
  CPUs): W encoder actors of C CPUs (and C encoder threads) each, load + chunk as Ray tasks.

It prints wall seconds, chunks/s, the ratio to one worker and to local ingest, and checks that
every variant indexed exactly the chunk ids of the local run. On a 2-core machine two 1-thread
workers can at best match one 2-thread encoder: the ratio measures Ray's overhead and how well
two processes share the cores, not what N machines reach.

    python benchmarks/bench_ray_ingest.py                       # FastAPI en+ja, all variants
    python benchmarks/bench_ray_ingest.py --limit 40 --variants local,ray1x1,ray2x1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_ingest import prepare_corpus
from common import REPO, header, header_markdown, loadavg_note, markdown_table, write_json

VARIANTS = {"local": None, "ray1x1": (1, 1), "ray2x1": (2, 1), "ray1x2": (1, 2)}


def start_chroma(data: Path, port: int) -> subprocess.Popen[bytes]:
    exe = str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen([exe, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    sys.exit("the Chroma server did not start within 60 s")


def run_variant(name: str, corpus: Path, tmp: Path, url: str, address: str | None) -> dict[str, Any]:
    from ingest.catalog import Catalog
    from ingest.distributed import RayIngestConfig, RaySource
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings

    s = IndexSettings(index_dir=tmp / f"idx-{name}", chroma_url=url, collection=f"bench-{name}-{os.getpid()}")
    shape = VARIANTS[name]
    source = None
    if shape is not None:
        source = RaySource(RayIngestConfig(address=address, workers=shape[0], cpus_per_worker=shape[1]),
                           embed_batch=s.embed_batch)
    t = time.perf_counter()
    report = Ingestor(s, source=source).run([corpus])
    wall = time.perf_counter() - t
    cat = Catalog(s.index_dir)
    ids = cat.all_chunk_ids()
    cat.close()
    assert not report.files_failed, report.files_failed
    return {"name": name, "wall_s": wall, "chunks": report.chunks_added, "embed_s": report.embed_seconds,
            "ids": sorted(ids)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N FastAPI pages (alternating en/ja)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {','.join(VARIANTS)}")
    ap.add_argument("--cluster-cpus", type=int, default=3, help="logical CPUs of the local Ray node")
    args = ap.parse_args()
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if bad := [v for v in names if v not in VARIANTS]:
        sys.exit(f"unknown variant(s) {bad}; allowed: {', '.join(VARIANTS)}")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["PYTHONPATH"] = str(REPO)  # the Ray workers import ragqa from this checkout
    head = header(["ray", "chromadb", "onnxruntime"])

    from ray.cluster_utils import Cluster

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp_s:
        tmp = Path(tmp_s)
        corpus, n_files, n_bytes = prepare_corpus("fastapi", args.limit, tmp / "corpus")
        chroma = start_chroma(tmp / "chroma", 8791)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cluster_cpus,
                                                               "include_dashboard": False})
        try:
            for name in names:
                r = run_variant(name, corpus, tmp, "http://127.0.0.1:8791", str(cluster.address))
                print(f"{name}: {r['chunks']} chunks in {r['wall_s']:.1f} s", flush=True)
                results.append(r)
        finally:
            cluster.shutdown()
            chroma.terminate()
            chroma.wait(timeout=30)

    base = {r["name"]: r for r in results}
    ref_ids = results[0]["ids"]
    rows = []
    for r in results:
        rate = r["chunks"] / r["wall_s"]
        vs = {k: (rate / (base[k]["chunks"] / base[k]["wall_s"]) if k in base else float("nan"))
              for k in ("ray1x1", "local")}
        shape = VARIANTS[r["name"]]
        label = "local (this process, all cores)" if shape is None else f"Ray: {shape[0]} worker(s) × {shape[1]} CPU"
        rows.append([label, r["chunks"], f"{r['wall_s']:.1f}", f"{rate:.2f}", f"{vs['ray1x1']:.2f}×",
                     f"{vs['local']:.2f}×", f"{r['embed_s']:.1f}", "yes" if r["ids"] == ref_ids else "NO"])
    print()
    print(header_markdown(head))
    print(f"- corpus: FastAPI docs en+ja, {n_files} files, {n_bytes / 1e6:.2f} MB; encoder e5 (ONNX Runtime); "
          f"vectors to one local Chroma server; Ray node with {args.cluster_cpus} logical CPUs on "
          f"{os.cpu_count()} cores; {loadavg_note().strip()}")
    print(markdown_table(["variant", "chunks", "wall s", "chunks/s", "× 1 worker", "× local",
                          "embed s (sum over workers)", f"same chunk ids as {results[0]['name']}"], rows))
    path = write_json("bench_ray_ingest", {"header": head, "files": n_files,
                                           "results": [{k: v for k, v in r.items() if k != "ids"} for r in results]})
    print(f"\n(JSON: {path})")


if __name__ == "__main__":
    main()
