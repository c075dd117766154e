"""Harness overhead of the evaluation harness (issue #12), measured on the extractive system,
where it matters most (answers take milliseconds, so the harness's own work shows).

Runs ``eval.run`` over ``docs_corpus/qa.jsonl`` (all 119 questions, or ``--limit``) with the
extractive system over docs_corpus ingested with the default embedder (built once into
``benchmarks/out/cache/indexes/docs_corpus-e5`` by ``bench_answer.ensure_index``), into a fresh run
folder, in three timed phases:

1. answering with no ragas metric: the loop's wall time against the time spent inside the
   system (``Answer.timings["total"]``: retrieval, prompt, generation, citation checks). The rest
   (keying, writing each trace, the progress bar) is the harness overhead; target <= 5 %;
2. a re-run with the default offline ragas metrics: every answer is skipped, so its wall time is
   planning + resuming + ragas scoring;
3. ``write_report``: the HTML / Markdown / CSV / JSON report with its plots.

    python benchmarks/bench_eval.py                # all 119 questions
    python benchmarks/bench_eval.py --limit 40
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_answer import QA_FILE, ensure_index
from common import header, header_markdown, loadavg_note, markdown_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="questions (default: all 119)")
    args = ap.parse_args()

    from eval.report import write_report
    from eval.runner import RunConfig, run

    index = ensure_index("qa")
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        out = Path(tmp) / "run"
        cfg = RunConfig(dataset=QA_FILE, systems=("extractive",), out_dir=out, index_dir=index, limit=args.limit,
                        metrics=(), progress=False)
        t = time.perf_counter()
        answered = run(cfg)
        total_1 = time.perf_counter() - t
        st = answered.stats["extractive"]
        t = time.perf_counter()
        scored = run(RunConfig(**{**cfg.__dict__, "metrics": None}))
        scoring_s = time.perf_counter() - t
        t = time.perf_counter()
        write_report(out)
        report_s = time.perf_counter() - t
    n = int(st["n"])
    harness = st["wall_s"] - st["answer_s"]
    rows = [
        ["questions answered", n],
        ["answer loop wall s", round(st["wall_s"], 2)],
        ["inside the system s (retrieval + generation + RAG steps)", round(st["answer_s"], 2)],
        ["harness overhead s", round(harness, 3)],
        ["harness overhead % of the loop", f"{100 * harness / st['wall_s']:.2f} %"],
        ["harness ms per question", round(1000 * harness / n, 2)],
        ["whole first run s (load dataset, open index, plan, answer)", round(total_1, 2)],
        [f"re-run: {scored.skipped} skipped + ragas offline metrics on {scored.scored} answers, s", round(scoring_s, 2)],
        ["report (HTML + plots, MD, CSV, JSON) s", round(report_s, 2)],
    ]
    print(header_markdown(header(["ragas", "matplotlib"])))
    print(loadavg_note())
    print(markdown_table(["bench_eval: extractive on docs_corpus/qa.jsonl", "value"], rows))


if __name__ == "__main__":
    main()
