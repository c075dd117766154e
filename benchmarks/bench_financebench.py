"""Retrieval on real filings (FinanceBench): dense, BM25 and hybrid, without vs with the document context.

The corpus is FinanceBench's filings (``../shared/datasets/financebench/pdfs``), ingested with the
real pipeline twice, side by side: once with ``RAGQA_DOC_CONTEXT=off`` (chunks as before issue #14)
and once with the document context (``ingest.doc_context``: every chunk embedded and BM25-indexed
with its document's title, issuer, form, period and file name). Both indexes use the same embedder
(``--embedder``, default e5-torch), the same chunks (the context never changes the cut) and live under
``benchmarks/out/cache/indexes/``; vectors go through the shared ``EmbeddingCache``, so a rerun (or a
killed run restarted) only embeds what is missing and the ingest itself is incremental.

Which filings: all 74 with ``--all``; else a subset that fits ``--page-budget`` pages, taken greedily by
questions per page (ties by name), with the questions restricted to those filings. The selection, its
pages and companies are printed and recorded; size the budget with the ingest speed this script
prints (chunks/s of fresh embeddings).

Metrics over the questions (gold: ``doc_name`` and each ``evidence[].evidence_page_num``, 0-based),
on the top 10 chunks of each retriever: at the filing, the rank of the first chunk from the right
filing; at the page, the rank of the first chunk from the right filing whose ``page`` is an evidence
page + 1. recall@5, recall@10 and MRR@5 (1/rank when the rank is <= 5, else 0).

``--sweep``: hybrid over a grid of fusion settings (dense/BM25 weights, depth, RRF k) on the
context index, to check the defaults (``rag_app.config.AnswerSettings``) against the best input.

Signals for the refusal gate (written for the context index, hybrid with the default settings) to
``benchmarks/out/financebench_signals.jsonl``, one JSON object per question and variant:

- ``qid`` (financebench_id), ``question``, ``company``, ``gold_filing`` (doc_name),
  ``gold_pages`` (1-based evidence pages), ``question_type``;
- ``variant``: ``"asked"`` (the hybrid top 5 as retrieved) or ``"near_miss"`` (every chunk of the
  gold filing removed from a deeper list, the next 5 kept: the corpus minus the answer's filing, so
  the question is unanswerable from these hits while other filings of the same company come back);
- ``hits``: the 5 hits in order, each ``{chunk_id, source, filing, page, score, dense_score,
  bm25_score, doc_context}`` (``dense_score``: the query-chunk cosine; ``bm25_score``: None when
  BM25 did not return the chunk, and likewise);
- ``gold_filing_in_hits`` / ``gold_page_in_hits``: whether the right filing / evidence page is
  among the 5 hits (always false for ``near_miss``).

Usage::

    python benchmarks/bench_financebench.py --sweep                # 650 pages: the subset in BENCHMARKS.md
    python benchmarks/bench_financebench.py --page-budget 250      # 12 filings: ~10 min of encoding
    python benchmarks/bench_financebench.py --all                  # all 74 filings (hours on 2 cores)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    CACHE_DIR,
    OUT_DIR,
    CachedEmbedder,
    EmbeddingCache,
    cached_ingest,
    dataset_path,
    header,
    header_markdown,
    loadavg_note,
    markdown_table,
    mrr_at,
    recall_at,
    write_json,
)

FINANCEBENCH_DIR = "financebench"
QUESTIONS_FILE = "financebench/financebench_open_source.jsonl"
SIGNALS_FILE = OUT_DIR / "financebench_signals.jsonl"
MODES = ("dense", "bm25", "hybrid")
VARIANTS = ("without", "with")  # the document context
TOP_K = 10  # chunks looked at per question (metrics at 5 and 10)
SIGNAL_K = 5  # hits per question in the signals file
NEAR_MISS_DEPTH = 100  # hits retrieved before the gold filing's are dropped (a filing has hundreds of chunks)
# (dense weight, BM25 weight, depth, RRF k) tried by --sweep; the first is the current default
SWEEP = [(1.0, 1.0, 50, 60), (1.0, 0.5, 50, 60), (1.0, 0.25, 50, 60), (1.0, 1.0, 100, 60), (1.0, 0.5, 100, 60),
         (1.0, 1.0, 50, 20), (1.0, 0.5, 50, 20), (2.0, 1.0, 50, 10)]


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    company: str
    filing: str  # doc_name = the PDF's stem
    pages: frozenset[int]  # 1-based evidence pages in ``filing``
    qtype: str


# --------------------------------------------------------------------------------------------
# data and selection
# --------------------------------------------------------------------------------------------
# in the index names: indexes are incremental per file, so a loader change (period tables as rows,
# issue #14) needs indexes of its own rather than a rerun over unchanged files
LOADER_TAG = "-tt"

def load_questions() -> list[Question]:
    out = []
    for line in dataset_path(QUESTIONS_FILE).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        pages = frozenset(int(e["evidence_page_num"]) + 1 for e in r["evidence"] if e.get("doc_name", r["doc_name"]) == r["doc_name"])
        out.append(Question(r["financebench_id"], r["question"], r["company"], r["doc_name"], pages, r["question_type"]))
    return out


def page_counts(pdf_dir: Path) -> dict[str, int]:
    """{filing: pages}, read with PDFium (milliseconds a file)."""
    import pypdfium2 as pdfium

    counts = {}
    for p in sorted(pdf_dir.glob("*.pdf")):
        doc = pdfium.PdfDocument(p)
        counts[p.stem] = len(doc)
        doc.close()
    return counts


def select_filings(pages: dict[str, int], questions: Sequence[Question], budget: int | None) -> list[str]:
    """Every filing (``budget`` None), else those that fit ``budget`` pages taken greedily by
    questions per page, ties by name."""
    if budget is None:
        return sorted(pages)
    asked = collections.Counter(q.filing for q in questions)
    order = sorted((f for f in pages if asked[f]), key=lambda f: (-asked[f] / pages[f], f))
    chosen, used = [], 0
    for f in order:
        if used + pages[f] <= budget:
            chosen.append(f)
            used += pages[f]
    return sorted(chosen)


# --------------------------------------------------------------------------------------------
# indexes
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def doc_context_setting(value: str) -> Iterator[None]:
    """``$RAGQA_DOC_CONTEXT`` = ``value`` inside the block (the Ingestor reads it when it opens)."""
    from ingest.doc_context import DOC_CONTEXT_ENV

    before = os.environ.get(DOC_CONTEXT_ENV)
    os.environ[DOC_CONTEXT_ENV] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DOC_CONTEXT_ENV, None)
        else:
            os.environ[DOC_CONTEXT_ENV] = before


def build(files: Sequence[Path], name: str, embedder: str, context: bool, cache: EmbeddingCache) -> tuple[Any, dict[str, Any]]:
    """Ingest ``files`` into ``cache/indexes/<name>`` (incremental) through the embedding cache."""
    from ingest.settings import IndexSettings

    settings = IndexSettings(index_dir=CACHE_DIR / "indexes" / name, embedder=embedder)
    with doc_context_setting("on" if context else "off"):
        info = cached_ingest(settings, files, cache, name)
    info["embedded"] = info.pop("cache_misses")
    info["from_cache"] = info.pop("cache_hits")
    print(f"  index {name}: +{info['chunks_added']} chunks, {info['files_unchanged']} files unchanged, "
          f"{info['embedded']} texts embedded in {info['embed_compute_s']:.0f} s, {info['from_cache']} from cache "
          f"({info['wall_s']:.0f} s)", flush=True)
    return settings, info


def context_cost(reader: Any, sample: int = 400) -> dict[str, float]:
    """Tokens the embedder reads per chunk with and without the context line (every
    ``n // sample``-th chunk), and the context line's length in characters."""
    chunks = list(reader.catalog.iter_chunks())
    step = max(1, len(chunks) // sample)
    picked = chunks[::step]
    count = reader.embedder.count_tokens
    with_ctx = [count(c.embedding_text()) for c in picked]
    without = [count(c.embedding_text().removeprefix(c.doc_context + "\n")) if c.doc_context else n
               for c, n in zip(picked, with_ctx, strict=True)]
    n = len(picked) or 1
    return {"chunks": len(chunks), "sampled": len(picked), "tokens_without": sum(without) / n,
            "tokens_with": sum(with_ctx) / n, "context_chars": sum(len(c.doc_context) for c in picked) / n,
            "extra_share": (sum(with_ctx) - sum(without)) / max(1, sum(without))}


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
def filing_of(hit: Any) -> str:
    return Path(hit.chunk.source).stem


def ranks(hits: Sequence[Any], q: Question) -> tuple[int | None, int | None]:
    """(rank of the first chunk of the right filing, of the first on an evidence page), 1-based."""
    filing = page = None
    for i, h in enumerate(hits, 1):
        if filing_of(h) == q.filing:
            filing = filing or i
            if h.chunk.page in q.pages:
                page = i
                break
    return filing, page


def metrics(rs: Sequence[int | None]) -> dict[str, float]:
    return {"recall@5": recall_at(rs, 5), "recall@10": recall_at(rs, 10), "mrr@5": mrr_at(rs, 5)}


def evaluate(search: Callable[[str], list[Any]], questions: Sequence[Question]) -> dict[str, Any]:
    per_q = [ranks(search(q.text), q) for q in questions]
    return {"filing": metrics([f for f, _ in per_q]), "page": metrics([p for _, p in per_q]),
            "ranks": {q.qid: list(r) for q, r in zip(questions, per_q, strict=True)}}


def retriever_search(retriever: Any, k: int = TOP_K) -> Callable[[str], list[Any]]:
    return lambda text: retriever.retrieve(text, top_k=k)


def default_retriever(reader: Any, mode: str = "hybrid", **overrides: Any) -> Any:
    """The retriever of ``mode`` with the answer side's defaults (``rag_app.config.AnswerSettings``:
    fusion weights, depth, synonyms, period and row weights), ``overrides`` replacing some."""
    from dataclasses import replace

    from rag_app.config import AnswerSettings
    from retrieval.factory import make_retriever
    from retrieval.synonyms import load_synonyms

    s = replace(AnswerSettings(), **overrides)
    return make_retriever(reader, mode, depth=s.depth, weights=(s.dense_weight, s.bm25_weight),
                          synonyms=load_synonyms(s.synonyms), period_weight=s.period_weight,
                          row_weight=s.row_weight, name_weight=s.name_weight)


def default_hybrid(reader: Any) -> Any:
    return default_retriever(reader, "hybrid")


# (synonyms, period_weight, row_weight, name_weight) of the hybrid: the issue-#14 query-side steps
QUERY_VARIANTS = (("off", 0.0, 0.0, 0.0), ("off", 1.0, 0.0, 0.0), ("finance", 0.0, 0.0, 0.0),
                  ("finance", 1.0, 0.0, 0.0), ("finance", 2.0, 0.0, 0.0), ("finance", 1.0, 1.0, 0.0),
                  ("finance", 1.0, 2.0, 0.0), ("finance", 1.0, 1.0, 1.0), ("finance", 1.0, 1.0, 2.0))


def query_variants(reader: Any, questions: Sequence[Question]) -> list[dict[str, Any]]:
    rows = []
    for synonyms, period_weight, row_weight, name_weight in QUERY_VARIANTS:
        r = default_retriever(reader, "hybrid", synonyms=synonyms, period_weight=period_weight, row_weight=row_weight,
                              name_weight=name_weight)
        rows.append({"synonyms": synonyms, "period_weight": period_weight, "row_weight": row_weight,
                     "name_weight": name_weight, **evaluate(retriever_search(r), questions)})
    return rows


def variants_table(rows: Sequence[dict[str, Any]]) -> str:
    out = ["| synonyms | period weight | row weight | name weight | filing R@5 | filing MRR@5 | page R@5 | page R@10 "
           "| page MRR@5 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f, p = r["filing"], r["page"]
        out.append(f"| {r['synonyms']} | {r['period_weight']:g} | {r['row_weight']:g} | {r['name_weight']:g} | "
                   f"{f['recall@5']:.3f} | {f['mrr@5']:.3f} | "
                   f"{p['recall@5']:.3f} | {p['recall@10']:.3f} | {p['mrr@5']:.3f} |")
    return "\n".join(out)


def run_modes(reader: Any, questions: Sequence[Question]) -> dict[str, Any]:
    out = {}
    for mode in MODES:
        r = default_retriever(reader, mode)
        t = time.perf_counter()
        out[mode] = evaluate(retriever_search(r), questions)
        out[mode]["seconds"] = time.perf_counter() - t
    return out


def sweep(reader: Any, questions: Sequence[Question]) -> list[dict[str, Any]]:
    from retrieval.factory import make_retriever

    rows = []
    for dw, bw, depth, k in SWEEP:
        r = make_retriever(reader, "hybrid", depth=depth, weights=(dw, bw), k=k)
        res = evaluate(retriever_search(r), questions)
        rows.append({"dense_weight": dw, "bm25_weight": bw, "depth": depth, "k": k,
                     "filing": res["filing"], "page": res["page"]})
    return rows


# --------------------------------------------------------------------------------------------
# signals for the refusal gate
# --------------------------------------------------------------------------------------------
def hit_row(h: Any) -> dict[str, Any]:
    return {"chunk_id": h.chunk.id, "source": h.chunk.source, "filing": filing_of(h), "page": h.chunk.page,
            "score": h.score, "dense_score": h.dense_score, "bm25_score": h.bm25_score,
            "doc_context": h.chunk.doc_context}


def signal_rows(reader: Any, questions: Sequence[Question]) -> Iterator[dict[str, Any]]:
    r = default_hybrid(reader)
    for q in questions:
        deep = r.retrieve(q.text, top_k=NEAR_MISS_DEPTH)
        base = {"qid": q.qid, "question": q.text, "company": q.company, "gold_filing": q.filing,
                "gold_pages": sorted(q.pages), "question_type": q.qtype}
        for variant, hits in (("asked", deep[:SIGNAL_K]),
                              ("near_miss", [h for h in deep if filing_of(h) != q.filing][:SIGNAL_K])):
            yield {**base, "variant": variant, "hits": [hit_row(h) for h in hits],
                   "gold_filing_in_hits": any(filing_of(h) == q.filing for h in hits),
                   "gold_page_in_hits": any(filing_of(h) == q.filing and h.chunk.page in q.pages for h in hits)}


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def results_table(results: dict[str, dict[str, Any]]) -> str:
    variants = [v for v in VARIANTS if v in results]
    rows = []
    for mode in MODES:
        for level in ("filing", "page"):
            row: list[Any] = [mode, level]
            for variant in variants:
                m = results[variant][mode][level]
                row += [f"{m['recall@5']:.3f}", f"{m['recall@10']:.3f}", f"{m['mrr@5']:.3f}"]
            rows.append(row)
    heads = ["retriever", "gold"] + [f"{name} ({v} context)" for v in variants for name in ("R@5", "R@10", "MRR@5")]
    return markdown_table(heads, rows)


def sweep_table(rows: Sequence[dict[str, Any]]) -> str:
    return markdown_table(
        ["dense w", "BM25 w", "depth", "RRF k", "filing R@5", "filing MRR@5", "page R@5", "page R@10", "page MRR@5"],
        [[r["dense_weight"], r["bm25_weight"], r["depth"], r["k"], f"{r['filing']['recall@5']:.3f}",
          f"{r['filing']['mrr@5']:.3f}", f"{r['page']['recall@5']:.3f}", f"{r['page']['recall@10']:.3f}",
          f"{r['page']['mrr@5']:.3f}"] for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--all", action="store_true", help="all 74 filings and 129 questions")
    size.add_argument("--page-budget", type=int, default=650,
                      help="pages of filings to ingest, chosen by questions per page (default 650)")
    ap.add_argument("--embedder", default="e5-torch", help="embedder spec (default e5-torch)")
    ap.add_argument("--sweep", action="store_true", help="also try a grid of hybrid fusion settings")
    ap.add_argument("--context-only", action="store_true",
                    help="build and measure the document-context index only (the default ingest), not the "
                         "index without it: half the encoding, for --all")
    args = ap.parse_args()
    built = ("with",) if args.context_only else VARIANTS

    head = header(["pypdfium2", "pdfplumber"])
    print(header_markdown(head) + loadavg_note(), flush=True)
    pdf_dir = dataset_path(FINANCEBENCH_DIR) / "pdfs"
    all_questions = load_questions()
    pages = page_counts(pdf_dir)
    budget = None if args.all else args.page_budget
    filings = select_filings(pages, all_questions, budget)
    chosen = set(filings)
    questions = [q for q in all_questions if q.filing in chosen]
    companies = sorted({q.company for q in questions})
    corpus = "all filings" if budget is None else f"subset of {budget} pages"
    tag = ("all" if budget is None else f"p{budget}") + LOADER_TAG
    print(f"corpus: {corpus}: {len(filings)} of {len(pages)} filings, {sum(pages[f] for f in filings)} pages, "
          f"{len(questions)} of {len(all_questions)} questions, {len(companies)} of "
          f"{len({q.company for q in all_questions})} companies ({', '.join(companies)})", flush=True)

    cache = EmbeddingCache()
    files = [pdf_dir / f"{f}.pdf" for f in filings]
    ingest: dict[str, Any] = {}
    results: dict[str, Any] = {}
    cost: dict[str, Any] = {}
    from retrieval.index import IndexReader

    readers = {}
    for variant in built:
        settings, ingest[variant] = build(files, f"financebench-{tag}-{variant}-context-{args.embedder}",
                                          args.embedder, variant == "with", cache)
        inner = CachedEmbedder(_embedder(args.embedder), cache)
        inner.warm_queries([q.text for q in questions])
        readers[variant] = IndexReader(settings, embedder=inner)
        results[variant] = run_modes(readers[variant], questions)
    cost = context_cost(readers["with"])

    swept = sweep(readers["with"], questions) if args.sweep else []
    variants = query_variants(readers["with"], questions)
    SIGNALS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with SIGNALS_FILE.open("w", encoding="utf-8") as f:
        for row in signal_rows(readers["with"], questions):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    print("\n" + results_table(results))
    print(f"\ncontext cost: {cost['tokens_without']:.0f} -> {cost['tokens_with']:.0f} embedder tokens per chunk "
          f"(+{100 * cost['extra_share']:.1f} %), context line {cost['context_chars']:.0f} chars; "
          + "; ".join(f"{v}: {ingest[v]['embedded']} embedded in {ingest[v]['embed_compute_s']:.0f} s, "
                      f"ingest {ingest[v]['wall_s']:.0f} s" for v in built))
    print("\nhybrid, query-side settings (context index):\n" + variants_table(variants))
    if swept:
        print("\n" + sweep_table(swept))
    print(f"\nsignals: {SIGNALS_FILE.relative_to(OUT_DIR.parent.parent)} ({2 * len(questions)} rows)")
    path = write_json("bench_financebench", {
        "header": head, "corpus": corpus, "filings": filings, "pages": sum(pages[f] for f in filings),
        "questions": len(questions), "companies": companies, "ingest": ingest, "context_cost": cost,
        "results": results, "sweep": swept, "query_variants": variants,
    })
    print(f"wrote {path}")


def _embedder(spec: str) -> Any:
    from ingest.embedders import get_embedder

    return get_embedder(spec)


if __name__ == "__main__":
    main()
