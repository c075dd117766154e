"""Answering on real filings (FinanceBench): correct, cited to the right filing, refused — asked and near miss.

Over the context index that ``bench_financebench.py`` builds (the same filings and questions: the
650-page subset by default, or ``--all``), each question is answered with the default settings
(``rag_app.config.AnswerSettings``) by each ``--generators`` spec, twice:

- ``asked``: as a user would ask it; every FinanceBench question is answerable from its filing, so a
  refusal here is a false refusal;
- ``near_miss``: the same question with every chunk of the gold filing removed from the hits (a
  retriever that drops them from a deeper list), so the rest of the company's filings still come
  back: the answer's filing is not there, and the right outcome is a refusal. It is not always
  unanswerable in fact: a sibling filing of the same period (an earnings release beside its 10-Q,
  a later 10-K's comparative columns) often prints the same number, so for judged questions each
  near miss records ``gold_in_contexts`` (the gold number is in the blocks it was given), and the
  table counts the refusals of the near misses without it apart;
- ``outside`` (a subset only): the questions about filings *not* in the subset, asked against it:
  their filing is not indexed, so the right outcome is a refusal. ``company_in_corpus`` tells the
  questions whose company has no filing in the subset (nothing about it is indexed) from those
  whose company has other filings there (the same kind as a near miss).

Correct: FinanceBench's answers are free text. A question whose gold answer holds a number is
*judged*: the answer is correct when it holds that number (within 1 %, also read as thousands or
millions of the other's unit: "$1577.00" matches "(1,577)" and "1.577 billion"). Answers without a
number (yes / no with an explanation) are not judged here; they are counted apart. "Cites the
filing": a citation whose source is the gold filing. "Other company": a citation to a filing of a
company the question is not about.

Answers are stored in ``benchmarks/out/financebench_answers/answers.jsonl`` keyed by generator,
variant, question, the answer path's source hash (``bench_answer.answer_path_hash``), the index and
the ``--set`` overrides: a rerun resumes, and a code, index or settings change answers again.

Usage::

    python benchmarks/bench_financebench_answers.py                         # extractive
    python benchmarks/bench_financebench_answers.py --generators extractive,qwen-1.5b
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_answer import answer_path_hash, unavailable_reason
from bench_financebench import (
    CACHE_DIR,
    FINANCEBENCH_DIR,
    LOADER_TAG,
    NEAR_MISS_DEPTH,
    QUESTIONS_FILE,
    Question,
    filing_of,
    load_questions,
    page_counts,
    select_filings,
)
from common import OUT_DIR, dataset_path, header, header_markdown, loadavg_note, markdown_table, write_json

RESULTS = OUT_DIR / "financebench_answers" / "answers.jsonl"
VARIANTS = ("asked", "near_miss", "outside")
_NUMBER = re.compile(r"(?<![\w.])(\(?-?(\$)?\s?(\d[\d,]*(?:\.\d+)?)\)?)\s?"
                     r"(%|percent\b|billion\b|million\b|thousand\b|bn\b|mn\b|(?![\w]))", re.I)
MAX_JUDGED_WORDS = 25  # a longer gold answer is an explanation: its numbers are not the answer


def numbers(text: str) -> list[tuple[float, str]]:
    """(value, unit) of every number in ``text`` (unit "%", a scale word, or ""), without years
    (a bare 1900-2100) and numbers glued to letters ("777X", "Q2")."""
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group(3)
        value = float(raw.replace(",", ""))
        unit = (m.group(4) or "").lower()
        if not m.group(2) and "," not in raw and "." not in raw and not unit and 1900 <= value <= 2100:
            continue
        out.append((value, "%" if unit in ("%", "percent") else unit))
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 0.01 * max(abs(a), abs(b)) + 1e-9


def numeric_match(answer: str, gold: str) -> bool | None:
    """True/False when ``gold`` is a numeric answer (is its number in ``answer``?), else None.

    Numeric: at most ``MAX_JUDGED_WORDS`` words holding a number that is not a small whole
    number (below 10: a chance hit). Its first such number is looked for, also in another scale
    (1,577 million = 1.577 billion) or without its unit; a percentage only as a percentage or bare."""
    if len(gold.split()) > MAX_JUDGED_WORDS:
        return None
    wanted = [(v, u) for v, u in numbers(gold) if v >= 10 or v != int(v) or u == "%"]
    if not wanted:
        return None
    value, unit = wanted[0]
    for v, u in numbers(answer):
        small = v < 10 and v == int(v)  # "2" is 2,000 only by chance
        factors = (1.0,) if unit == "%" or u == "%" or small else (1.0, 1e3, 1e-3, 1e6, 1e-6)
        if any(_close(v * f, value) for f in factors):
            return True
    return False


class _WithoutFiling:
    """The default retriever with one filing's chunks dropped from a deeper list (a near miss)."""

    def __init__(self, inner: Any, filing: str) -> None:
        self.inner = inner
        self.filing = filing
        self.name = inner.name

    def retrieve(self, query: str, top_k: int = 10, filters: Any = None, groups: Any = None) -> list[Any]:
        deep = self.inner.retrieve(query, top_k=NEAR_MISS_DEPTH, filters=filters, groups=groups)
        return [h for h in deep if filing_of(h) != self.filing][:top_k]


def read_done(key: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    done = {}
    if RESULTS.is_file():
        for line in RESULTS.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["key"] == key:
                done[(r["generator"], r["variant"], r["qid"])] = r
    return done


def answer_one(rag: Any, q: Question, gold: str, generator: str, variant: str, key: str,
               companies: dict[str, str], indexed: frozenset[str]) -> dict[str, Any]:
    t = time.perf_counter()
    a = rag.ask(q.text)
    cited = [Path(c.source).stem for c in a.citations]
    given = "\n".join(h.chunk.text for h in a.contexts)
    return {"key": key, "generator": generator, "variant": variant, "qid": q.qid, "question": q.text,
            "gold_answer": gold, "gold_filing": q.filing, "answer": a.text, "refused": a.refused,
            "refusal_reason": a.refusal_reason, "cited": cited,
            "cites_filing": q.filing in cited,
            "other_company": any(companies.get(f, q.company) != q.company for f in cited),
            "correct": None if a.refused else numeric_match(a.text, gold),
            "gold_in_contexts": numeric_match(given, gold),
            "company_in_corpus": q.company in {companies[f] for f in indexed if f in companies},
            "seconds": time.perf_counter() - t}


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts over ``rows`` (one generator); correctness is judged again from the stored answers."""
    rows = [{**r, "correct": None if r["refused"] else numeric_match(r["answer"], r["gold_answer"])} for r in rows]
    asked = [r for r in rows if r["variant"] == "asked"]
    near = [r for r in rows if r["variant"] == "near_miss"]
    near_without = [r for r in near if r.get("gold_in_contexts") is False]
    outside = [r for r in rows if r["variant"] == "outside"]
    absent = [r for r in outside if not r.get("company_in_corpus")]
    judged = [r for r in asked if numeric_match("", r["gold_answer"]) is not None]
    answered = [r for r in asked if not r["refused"]]
    return {
        "n": len(asked), "judged": len(judged),
        "correct": sum(bool(r["correct"]) for r in judged),
        "correct_cited": sum(bool(r["correct"]) and r["cites_filing"] for r in judged),
        "false_refusals": sum(r["refused"] for r in asked),
        "cites_filing": sum(r["cites_filing"] for r in answered), "answered": len(answered),
        "other_company": sum(r["other_company"] for r in answered),
        "near_refused": sum(r["refused"] for r in near), "near_n": len(near),
        "near_without_refused": sum(r["refused"] for r in near_without), "near_without_n": len(near_without),
        "absent_refused": sum(r["refused"] for r in absent), "absent_n": len(absent),
        "outside_present_refused": sum(r["refused"] for r in outside if r not in absent),
        "outside_present_n": len(outside) - len(absent),
        "p50_s": sorted(r["seconds"] for r in asked)[len(asked) // 2] if asked else 0.0,
    }


def table(summary: dict[str, dict[str, Any]]) -> str:
    rows = []
    for gen, s in summary.items():
        rows.append([gen, s["n"], f"{s['correct_cited']}/{s['judged']} ({s['correct_cited'] / max(1, s['judged']):.0%})",
                     f"{s['correct']}/{s['judged']}", f"{s['false_refusals']}/{s['n']}",
                     f"{s['cites_filing']}/{s['answered']}", f"{s['other_company']}/{s['answered']}",
                     f"{s['near_refused']}/{s['near_n']}", f"{s['near_without_refused']}/{s['near_without_n']}",
                     f"{s['absent_refused']}/{s['absent_n']}",
                     f"{s['outside_present_refused']}/{s['outside_present_n']}", f"{s['p50_s']:.1f}"])
    return markdown_table(["generator", "questions", "correct + cites filing (numeric answers)", "correct",
                           "refused (false)", "answers citing the filing", "answers citing another company",
                           "near misses refused", "near misses without the gold number, refused",
                           "outside: company not indexed, refused", "outside: company's other filings, refused",
                           "p50 s"], rows)


def _override(text: str) -> tuple[str, Any]:
    """"name_weight=0" -> ("name_weight", 0.0); a value that is not a number stays a string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"--set {text!r}: give NAME=VALUE, e.g. --set name_weight=0")
    try:
        return name, float(value)
    except ValueError:
        return name, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--generators", default="extractive", help="comma-separated generator specs")
    ap.add_argument("--page-budget", type=int, default=650, help="the subset of bench_financebench (default 650)")
    ap.add_argument("--all", action="store_true", help="all 74 filings (their index must exist)")
    ap.add_argument("--limit", type=int, default=None, help="first N questions")
    ap.add_argument("--embedder", default="e5-torch")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                    help="an answer setting to change, e.g. --set name_weight=0 (repeatable)")
    args = ap.parse_args()
    overrides = dict(_override(o) for o in args.overrides)

    from rag_app import RAG

    head = header(["llama_cpp_python"])
    print(header_markdown(head) + loadavg_note(), flush=True)
    pdf_dir = dataset_path(FINANCEBENCH_DIR) / "pdfs"
    budget = None if args.all else args.page_budget
    filings = set(select_filings(page_counts(pdf_dir), load_questions(), budget))
    questions = [q for q in load_questions() if q.filing in filings][: args.limit]
    outside = [q for q in load_questions() if q.filing not in filings][: args.limit]
    asked_in = {"asked": questions, "near_miss": questions, "outside": outside}
    gold = {json.loads(x)["financebench_id"]: json.loads(x)["answer"]
            for x in dataset_path(QUESTIONS_FILE).read_text(encoding="utf-8").splitlines() if x.strip()}
    companies = {q.filing: q.company for q in load_questions()}
    tag = ("all" if budget is None else f"p{budget}") + LOADER_TAG
    index = CACHE_DIR / "indexes" / f"financebench-{tag}-with-context-{args.embedder}"
    if not index.is_dir():
        sys.exit(f"{index} is missing: build it first with python benchmarks/bench_financebench.py"
                 + (" --all" if budget is None else f" --page-budget {budget}"))
    # the stored answers belong to this code, this index and these settings
    key = f"{answer_path_hash()}:{index.name}" + "".join(f":{k}={v}" for k, v in sorted(overrides.items()))
    done = read_done(key)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    summary = {}
    for gen in [g.strip() for g in args.generators.split(",") if g.strip()]:
        reason = unavailable_reason(gen)
        if reason:
            print(f"skip {gen}: {reason}", flush=True)
            continue
        rag = RAG.from_config(index_dir=index, embedder=args.embedder, generator=gen, **overrides)
        rows = []
        for variant in VARIANTS:
            for i, q in enumerate(asked_in[variant], 1):
                if (gen, variant, q.qid) not in done:
                    r = rag if variant != "near_miss" else RAG(
                        rag.config, retriever=_WithoutFiling(rag.retriever, q.filing), reader=rag.reader,
                        generator=rag.generator)
                    done[(gen, variant, q.qid)] = answer_one(r, q, gold[q.qid], gen, variant, key, companies,
                                                           frozenset(filings))
                    with RESULTS.open("a", encoding="utf-8") as f:
                        f.write(json.dumps(done[(gen, variant, q.qid)], ensure_ascii=False) + "\n")
                    rec = done[(gen, variant, q.qid)]
                    print(f"  [{gen} {variant} {i}/{len(asked_in[variant])}] {'refused' if rec['refused'] else rec['correct']}"
                          f" {rec['answer'][:90]!r}", flush=True)
                rows.append(done[(gen, variant, q.qid)])
        summary[gen] = summarize(rows)
    print("\n" + table(summary) + f"\n\nLoad at end{loadavg_note()}.")
    print(f"wrote {write_json('bench_financebench_answers', {'header': head, 'summary': summary, 'key': key})}")


if __name__ == "__main__":
    main()
