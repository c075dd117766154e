"""How well can ragqa tell an answerable question from an unanswerable one, with what it has offline?

For the same questions as ``bench_answer.py`` (docs_corpus/qa.jsonl: 106 answerable, 13
unanswerable; seeded 200 of SQuAD dev and of JSQuAD valid, all answerable), retrieval only (no
generator), it records two refusal signals per question:

- ``cosine``: the best dense (E5) cosine among the retrieved chunks: the retrieval-level gate
  (``rag_app.refusal.should_refuse`` against ``refusal_threshold``);
- ``coverage``: the extractive generator's best sentence coverage (the IDF-weighted share of the
  question's terms one retrieved sentence holds; ``ExtractiveGenerator.min_coverage`` gates it);

and prints, for a grid of thresholds, how many unanswerable questions each signal refuses against
the share of answerable questions it wrongly refuses, plus each signal's ROC AUC on qa.jsonl.
The unanswerable questions are the 13 of qa.jsonl; the false-refusal side is measured on all three
sets, so an operating point is not fitted to the 13 alone.

    python benchmarks/bench_refusal.py              # ~3 min on 2 cores (query encoding + retrieval)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_answer import SETS, ensure_index, question_order
from common import OUT_DIR, header, header_markdown, loadavg_note, markdown_table

COSINE_GRID = (0.80, 0.82, 0.84, 0.85, 0.86, 0.87, 0.88, 0.90)
COVERAGE_GRID = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def signals(set_name: str, seed: int) -> list[dict[str, Any]]:
    """One row per question: set, qid, answerable, lang, cosine, coverage."""
    from ingest.settings import IndexSettings
    from rag_app.config import AnswerSettings, RAGConfig
    from rag_app.generators.extractive import score_sentences
    from rag_app.prompting import detect_question_lang
    from rag_app.rag import RAG, relevance_signal

    rag = RAG(RAGConfig(index=IndexSettings(index_dir=ensure_index(set_name)),
                        answer=AnswerSettings(generator="extractive")))
    rows = []
    for q in question_order(set_name, seed):
        _, hits = rag.retrieve(q.text, groups=list(q.groups) or None)
        lang = detect_question_lang(q.text)
        scored = score_sentences(q.text, [(i + 1, h.chunk.text) for i, h in enumerate(hits)], lang)
        rows.append({"set": set_name, "qid": q.qid, "answerable": q.answerable, "lang": lang,
                     "cosine": relevance_signal(hits, rag.config.answer.mode),
                     "coverage": max((s.coverage for s in scored), default=0.0)})
    rag.close()
    return rows


def auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(an answerable question scores above an unanswerable one), ties half: the ROC AUC."""
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def tradeoff(rows: Sequence[dict[str, Any]], key: str, grid: Sequence[float], sets: Sequence[str]) -> list[list[Any]]:
    """[threshold, unanswerable refused "k/n", false-refusal rate per set...] for each threshold."""
    neg = [r[key] for r in rows if not r["answerable"]]
    out = []
    for t in grid:
        line: list[Any] = [f"{t:.2f}", f"{sum(v < t for v in neg)}/{len(neg)}"]
        for s in sets:
            pos = [r[key] for r in rows if r["answerable"] and r["set"] == s]
            line.append(f"{sum(v < t for v in pos) / len(pos):.3f}" if pos else "–")
        out.append(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    t0 = time.perf_counter()
    print("## bench_refusal\n\n" + header_markdown(header()), flush=True)
    rows = [r for s in sets for r in signals(s, args.seed)]
    qa = [r for r in rows if r["set"] == "qa"]
    sections = []
    for key, grid, gate in (("cosine", COSINE_GRID, "refusal_threshold (retrieval gate)"),
                            ("coverage", COVERAGE_GRID, "extractive min_coverage")):
        a = auc([r[key] for r in qa if r["answerable"]], [r[key] for r in qa if not r["answerable"]])
        sections.append(f"\n**{key}** ({gate}); ROC AUC on qa.jsonl {a:.3f}\n\n"
                        + markdown_table(["threshold", "unanswerable refused", *[f"false refusal {s}" for s in sets]],
                                         tradeoff(rows, key, grid, sets)))
    print("\n".join(sections))
    print(f"\n{loadavg_note()} ({time.perf_counter() - t0:.0f} s)")
    out = OUT_DIR / "bench_refusal.json"
    out.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    print(f"rows: {out}")


if __name__ == "__main__":
    main()
