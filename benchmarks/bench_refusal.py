"""How well can ragqa tell an answerable question from an unanswerable one, with what it has offline?

For the same questions as ``bench_answer.py`` (docs_corpus/qa.jsonl: 106 answerable, 13
unanswerable; seeded 200 of SQuAD dev and of JSQuAD valid, all answerable), retrieval only (no
generator), it records two refusal signals per question:

- ``cosine``: the best dense (E5) cosine among the retrieved chunks: the retrieval-level gate
  (``rag_app.refusal.should_refuse`` against ``refusal_threshold``);
- ``coverage``: the extractive generator's best sentence coverage (the IDF-weighted share of the
  question's terms one retrieved sentence holds; ``ExtractiveGenerator.min_coverage`` gates it);

- ``share``: the idf-weighted share of the question's terms that no retrieved chunk in its
  language contains (``rag_app.answerability``; ``AnswerSettings.max_unsupported`` gates it);

and prints, for a grid of thresholds, how many unanswerable questions each signal refuses against
the share of answerable questions it wrongly refuses, plus each signal's ROC AUC on qa.jsonl.
The unanswerable questions are the 13 of qa.jsonl; the false-refusal side is measured on all three
sets, so an operating point is not fitted to the 13 alone.

``share``'s cut is *fitted* without qa.jsonl: on ``--train`` further SQuAD and JSQuAD questions
(none of the 200 of each set above), each asked twice: as is (answerable) and with its gold
paragraph removed from the results and from the corpus statistics (a near miss: the rest of the
article still comes back, like qa.jsonl's unanswerable questions). The fitted cut is the lowest
that wrongly refuses at most ``--max-false-refusal`` (5 %) of those answerable training questions
on each dataset; qa.jsonl and the 200-question samples then measure it.

    python benchmarks/bench_refusal.py              # ~4 min on 2 cores (query encoding + retrieval)
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
SHARE_GRID = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)  # refuse when share > t


def support_share(rag: Any, question: str, hits: Sequence[Any], lang: str, drop_source: str | None = None) -> float:
    """``RAG.lexical_support``'s share (0 when it abstains); with ``drop_source`` the same check
    with the statistics of the corpus without that document (its chunks' BM25 terms)."""
    from rag_app.answerability import question_terms, support_terms, term_support

    if drop_source is None:
        found = rag.lexical_support(question, hits, lang)
        return found.unsupported_share if found is not None and found.applicable else 0.0
    reader = rag.reader
    terms = question_terms(question, reader.analyzer)
    df, n = reader.doc_freq(terms)
    gold = [set(t) for t in reader.catalog.terms_of_source(drop_source)]
    n -= len(gold)
    df = {t: v - sum(t in g for g in gold) for t, v in df.items()}
    same = [support_terms(h.chunk, reader.analyzer) for h in hits if h.chunk.lang == lang]
    sup = term_support(terms, same, df, n)
    return sup.unsupported_share if sup.applicable else 0.0


def _extractive_rag(set_name: str) -> Any:
    """A ``RAG`` over ``set_name``'s benchmark index with the default answer settings and the
    extractive generator (retrieval and refusal signals only: nothing here calls an LLM)."""
    from ingest.settings import IndexSettings
    from rag_app.config import AnswerSettings, RAGConfig
    from rag_app.rag import RAG

    return RAG(RAGConfig(index=IndexSettings(index_dir=ensure_index(set_name)),
                         answer=AnswerSettings(generator="extractive")))


def near_miss_rows(set_name: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` training questions of SQuAD/JSQuAD outside the benchmark sample, each as asked
    (answerable) and as a near miss (gold paragraph gone): set, qid, answerable, share."""
    import random

    from bench_answer import _dataset_questions

    from rag_app.prompting import detect_question_lang

    rag = _extractive_rag(set_name)
    k = rag.config.answer.top_k
    held = {q.qid for q in question_order(set_name, seed)}
    pool = [q for q in _dataset_questions(set_name) if q.qid not in held]
    rows = []
    for q in random.Random(seed + 1).sample(pool, min(n, len(pool))):
        lang = detect_question_lang(q.text)
        hits = rag.retriever.retrieve(q.text, top_k=k + 15)  # enough left after dropping the gold paragraph
        rows.append({"set": set_name, "qid": q.qid, "answerable": True,
                     "share": support_share(rag, q.text, hits[:k], lang)})
        rest = [h for h in hits if h.chunk.source != q.gold_source][:k]
        rows.append({"set": set_name, "qid": q.qid, "answerable": False,
                     "share": support_share(rag, q.text, rest, lang, drop_source=q.gold_source)})
    rag.close()
    return rows


def fit_share_cut(train: Sequence[dict[str, Any]], max_false_refusal: float) -> float:
    """The lowest cut of ``SHARE_GRID`` that refuses at most ``max_false_refusal`` of the
    answerable training questions of every dataset (the highest cut if none does)."""
    sets = sorted({r["set"] for r in train})
    for t in SHARE_GRID:
        if all(_rate([r["share"] > t for r in train if r["set"] == s and r["answerable"]]) <= max_false_refusal
               for s in sets):
            return t
    return SHARE_GRID[-1]


def _rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def signals(set_name: str, seed: int) -> list[dict[str, Any]]:
    """One row per question: set, qid, answerable, lang, cosine, coverage."""
    from rag_app.generators.extractive import score_sentences
    from rag_app.prompting import detect_question_lang
    from rag_app.rag import relevance_signal

    rag = _extractive_rag(set_name)
    rows = []
    for q in question_order(set_name, seed):
        _, hits = rag.retrieve(q.text, groups=list(q.groups) or None)
        lang = detect_question_lang(q.text)
        scored = score_sentences(q.text, [(i + 1, h.chunk.text) for i, h in enumerate(hits)], lang)
        rows.append({"set": set_name, "qid": q.qid, "answerable": q.answerable, "lang": lang,
                     "cosine": relevance_signal(hits, rag.config.answer.mode),
                     "coverage": max((s.coverage for s in scored), default=0.0),
                     "share": support_share(rag, q.text, hits, lang)})
    rag.close()
    return rows


FINANCEBENCH_SIGNALS = OUT_DIR / "financebench_signals.jsonl"


def financebench_rows(signals_file: Path, index_dir: Path) -> list[dict[str, Any]]:
    """The lexical-support share of each FinanceBench question as asked (answerable) and as a near
    miss (every chunk of its gold filing removed from the hits), over the hits that
    ``bench_financebench.py`` recorded in ``signals_file`` for the index at ``index_dir``."""
    from ingest.settings import IndexSettings
    from rag_app.config import AnswerSettings, RAGConfig
    from rag_app.prompting import detect_question_lang
    from rag_app.rag import RAG
    from retrieval.names import missing_names
    from retrieval.periods import missing_period
    from retrieval.types import Hit

    rag = RAG(RAGConfig(index=IndexSettings(index_dir=index_dir), answer=AnswerSettings(generator="extractive")))
    rows = []
    for line in signals_file.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        chunks = rag.reader.chunks([h["chunk_id"] for h in r["hits"]])
        hits = [Hit(chunk=chunks[h["chunk_id"]], score=h["score"], retriever="hybrid", rank=i + 1,
                    dense_score=h.get("dense_score"))
                for i, h in enumerate(r["hits"]) if h["chunk_id"] in chunks]
        rows.append({"set": "financebench", "qid": r["qid"], "answerable": r["variant"] == "asked",
                     "share": support_share(rag, r["question"], hits, detect_question_lang(r["question"])),
                     "period": bool(missing_period(r["question"], [h.chunk for h in hits])),
                     "name": bool(missing_names(r["question"], [h.chunk for h in hits]))})
    rag.close()
    return rows


def auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(an answerable question scores above an unanswerable one), ties half: the ROC AUC."""
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def tradeoff(rows: Sequence[dict[str, Any]], key: str, grid: Sequence[float], sets: Sequence[str]) -> list[list[Any]]:
    """[threshold, unanswerable refused "k/n", false-refusal rate per set...] for each threshold
    (refused: below the threshold; for ``share``, above it)."""
    def refused(v: float, t: float) -> bool:
        return v > t if key == "share" else v < t

    neg = [r[key] for r in rows if not r["answerable"]]
    out = []
    for t in grid:
        line: list[Any] = [f"{t:.2f}", f"{sum(refused(v, t) for v in neg)}/{len(neg)}"]
        for s in sets:
            pos = [r[key] for r in rows if r["answerable"] and r["set"] == s]
            line.append(f"{sum(refused(v, t) for v in pos) / len(pos):.3f}" if pos else "–")
        out.append(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", type=int, default=300, help="training questions per dataset for the share cut")
    ap.add_argument("--max-false-refusal", type=float, default=0.05)
    ap.add_argument("--financebench-index", type=Path, default=None,
                    help="the with-context FinanceBench index of bench_financebench.py: adds the share's trade-off on "
                         f"its questions as asked vs as near misses (hits from {FINANCEBENCH_SIGNALS.name})")
    args = ap.parse_args()
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    t0 = time.perf_counter()
    print("## bench_refusal\n\n" + header_markdown(header()), flush=True)
    rows = [r for s in sets for r in signals(s, args.seed)]
    qa = [r for r in rows if r["set"] == "qa"]
    sections = []
    for key, grid, gate in (("cosine", COSINE_GRID, "refusal_threshold (retrieval gate)"),
                            ("coverage", COVERAGE_GRID, "extractive min_coverage"),
                            ("share", SHARE_GRID, "max_unsupported (lexical support gate; refuses above)")):
        sign = -1.0 if key == "share" else 1.0
        a = auc([sign * r[key] for r in qa if r["answerable"]], [sign * r[key] for r in qa if not r["answerable"]])
        sections.append(f"\n**{key}** ({gate}); ROC AUC on qa.jsonl {a:.3f}\n\n"
                        + markdown_table(["threshold", "unanswerable refused", *[f"false refusal {s}" for s in sets]],
                                         tradeoff(rows, key, grid, sets)))
    train = [r for s in sets if s in ("squad", "jsquad") for r in near_miss_rows(s, args.train, args.seed)]
    if train:
        cut = fit_share_cut(train, args.max_false_refusal)
        tsets = sorted({r["set"] for r in train})
        sections.append(f"\n**share, fitted on near misses** ({args.train} training questions per dataset, none of "
                        f"the benchmark's; each as asked and with its gold paragraph removed): the lowest cut "
                        f"refusing ≤ {args.max_false_refusal:.0%} of the answerable ones on each dataset is "
                        f"**{cut:.2f}**\n\n"
                        + markdown_table(["threshold", *[f"{s} near misses refused" for s in tsets],
                                          *[f"{s} answerable refused" for s in tsets]],
                                         [[f"{t:.2f}",
                                           *[f"{_rate([r['share'] > t for r in train if r['set'] == s and not r['answerable']]):.3f}" for s in tsets],
                                           *[f"{_rate([r['share'] > t for r in train if r['set'] == s and r['answerable']]):.3f}" for s in tsets]]
                                          for t in SHARE_GRID]))
        from rag_app.generators.extractive import ExtractiveGenerator

        min_cov = ExtractiveGenerator().min_coverage
        qa_neg = [r for r in qa if not r["answerable"]]
        line = [f"{sum(r['share'] > cut for r in qa_neg)}/{len(qa_neg)} unanswerable refused"]
        for s in sets:
            pos = [r for r in rows if r["set"] == s and r["answerable"]]
            line.append(f"false refusal {s} {_rate([r['share'] > cut for r in pos]):.3f}")
            both = [(r["share"] > cut) or (r["coverage"] < min_cov) for r in pos]
            line.append(f"{s} with the extractive gate too {_rate(both):.3f}")
        both_neg = sum((r["share"] > cut) or (r["coverage"] < min_cov) for r in qa_neg)
        sections.append(f"\nAt the fitted cut {cut:.2f}: " + "; ".join(line)
                        + f"; with the extractive coverage gate ({min_cov:.2f}) too: {both_neg}/{len(qa_neg)} unanswerable refused")
    if args.financebench_index is not None:
        fb = financebench_rows(FINANCEBENCH_SIGNALS, args.financebench_index)
        sections.append(f"\n**share on FinanceBench** ({sum(r['answerable'] for r in fb)} questions as asked; the "
                        "same with every chunk of the gold filing removed from the hits = near misses)\n\n"
                        + markdown_table(["threshold", "near misses refused", "answerable refused",
                                          "near misses refused, with the period check", "answerable refused, with it",
                                          "near misses refused, with the period and name checks",
                                          "answerable refused, with both"],
                                         [[f"{t:.2f}", f"{_rate([r['share'] > t for r in fb if not r['answerable']]):.3f}",
                                           f"{_rate([r['share'] > t for r in fb if r['answerable']]):.3f}",
                                           f"{_rate([r['share'] > t or r['period'] for r in fb if not r['answerable']]):.3f}",
                                           f"{_rate([r['share'] > t or r['period'] for r in fb if r['answerable']]):.3f}",
                                           f"{_rate([r['share'] > t or r['period'] or r['name'] for r in fb if not r['answerable']]):.3f}",
                                           f"{_rate([r['share'] > t or r['period'] or r['name'] for r in fb if r['answerable']]):.3f}"]
                                          for t in SHARE_GRID]))
        rows += fb
    print("\n".join(sections))
    print(f"\n{loadavg_note()} ({time.perf_counter() - t0:.0f} s)")
    out = OUT_DIR / "bench_refusal.json"
    out.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    print(f"rows: {out}")


if __name__ == "__main__":
    main()
