"""Quick BM25 check: recall@k of each analyzer on JSQuAD valid and SQuAD dev, analyzer speed,
and BM25 query latency on a 100k-chunk index.

Each question's gold passage is the paragraph it was written about (one gold per question).
JSQuAD contexts begin with "<title> [SEP] "; the title is kept as a first line (as ragqa keeps
a chunk's heading path), the "[SEP]" marker is removed.

    python benchmarks/bench_bm25_quick.py                      # recall + speed tables
    python benchmarks/bench_bm25_quick.py --latency-docs 100000  # + latency at 100k chunks
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.analysis import Analyzer, MultilingualAnalyzer, WhitespaceAnalyzer
from ingest.bm25_index import BM25Index

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")


def load_squad_format(
    path: Path, *, sample: int | None, seed: int
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(passage ids, passage texts, [(question, gold passage id)])."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    ids: list[str] = []
    texts: list[str] = []
    questions: list[tuple[str, str]] = []
    for art in data:
        for para in art["paragraphs"]:
            pid = f"p{len(ids)}"
            ids.append(pid)
            texts.append(para["context"].replace(" [SEP] ", "\n", 1))
            questions.extend((qa["question"], pid) for qa in para["qas"])
    if sample is not None and sample < len(questions):
        questions = random.Random(seed).sample(questions, sample)
    return ids, texts, questions


def recall_at(
    index: BM25Index, analyzer: Analyzer, questions: list[tuple[str, str]], ks: tuple[int, ...]
) -> dict[int, float]:
    kmax = max(ks)
    hits = dict.fromkeys(ks, 0)
    for q_tokens, (_, gold) in zip(analyzer.tokenize_many(q for q, _ in questions), questions, strict=True):
        ranked = [cid for cid, _ in index.search(q_tokens, kmax)]
        for k in ks:
            hits[k] += gold in ranked[:k]
    return {k: hits[k] / len(questions) for k in ks}


def chars_per_s(analyzer: Analyzer, texts: list[str]) -> float:
    analyzer.tokenize("warm up 東京")  # loads the dictionary outside the timing
    t = time.perf_counter()
    analyzer.tokenize_many(texts)
    return sum(map(len, texts)) / (time.perf_counter() - t)


def latency(n_docs: int, seed: int, analyzer: Analyzer, corpora: list[list[str]], queries: list[str]) -> None:
    """Build an n_docs-chunk index from random 4-passage mixes of the real corpora (real term
    statistics, Zipfian postings) and time ``search`` with and without a 50% allowed mask."""
    rng = random.Random(seed)
    pool = [toks for corpus in corpora for toks in analyzer.tokenize_many(corpus)]
    docs = [
        [tok for _ in range(4) for tok in rng.choice(pool)[: rng.randint(20, 120)]] for _ in range(n_docs)
    ]
    t = time.perf_counter()
    index = BM25Index.build([f"c{i}" for i in range(n_docs)], docs, analyzer=analyzer.name)
    build_s = time.perf_counter() - t
    mask = np.random.default_rng(seed).random(n_docs) < 0.5
    q_tokens = analyzer.tokenize_many(queries)
    for label, allowed in (("no mask", None), ("50% mask", mask)):
        times = []
        for qt in q_tokens:
            t = time.perf_counter()
            index.search(qt, 10, allowed)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p50 = statistics.median(times)
        p95 = times[int(0.95 * (len(times) - 1))]
        print(
            f"latency {n_docs:,} chunks ({label}): p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {times[-1]:.2f} ms "
            f"over {len(times)} queries (build {build_s:.1f} s, avg {np.mean([len(d) for d in docs]):.0f} terms/chunk)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--squad-sample", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default="A+C", help="comma list of Sudachi units to compare: A,B,C,A+C")
    ap.add_argument("--latency-docs", type=int, default=0, help="also time queries on an index this big")
    args = ap.parse_args()

    jsquad, squad = DATASETS / "jsquad" / "valid-v1.3.json", DATASETS / "squad" / "dev-v1.1.json"
    if not (jsquad.is_file() and squad.is_file()):
        sys.exit(f"datasets not found under {DATASETS} (need jsquad/valid-v1.3.json and squad/dev-v1.1.json)")
    sets = {
        "JSQuAD valid": load_squad_format(jsquad, sample=None, seed=args.seed),
        "SQuAD dev": load_squad_format(squad, sample=args.squad_sample, seed=args.seed),
    }
    analyzers: list[Analyzer] = [WhitespaceAnalyzer()]
    analyzers += [MultilingualAnalyzer(m.strip()) for m in args.modes.split(",")]
    ks = (1, 5, 10)

    print(
        f"{'dataset':<13} {'passages':>8} {'questions':>9}  {'analyzer':<32} "
        + " ".join(f"{'R@' + str(k):>6}" for k in ks)
        + f" {'chars/s':>12}"
    )
    for ds_name, (ids, texts, questions) in sets.items():
        for analyzer in analyzers:
            speed = chars_per_s(analyzer, texts)
            index = BM25Index.build(ids, analyzer.tokenize_many(texts), analyzer=analyzer.name)
            rec = recall_at(index, analyzer, questions, ks)
            print(
                f"{ds_name:<13} {len(ids):>8,} {len(questions):>9,}  {analyzer.name:<32} "
                + " ".join(f"{rec[k]:>6.3f}" for k in ks)
                + f" {speed:>12,.0f}"
            )

    if args.latency_docs:
        analyzer = analyzers[-1]
        corpora = [texts for _, texts, _ in sets.values()]
        queries = [q for _, _, qs in sets.values() for q, _ in qs[:500]]
        latency(args.latency_docs, args.seed, analyzer, corpora, queries)


if __name__ == "__main__":
    main()
