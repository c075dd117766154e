"""Generator fine-tuning (issue #11): a RAFT LoRA on SmolLM2-135M, trained on SQuAD dev + JSQuAD
valid (split 80/20 by article) and measured against the untuned base and the extractive
generator, retrieval included (top 5, the product's hybrid defaults, not gold passages).

Phases (``--phase``, default all; each is resumable and skips what is done):

1. ``data``: ``rag_app.finetune.data.build_dataset`` over the paragraph indexes that
   ``bench_answer.py`` caches (``squad-e5-torch``, ``jsquad-e5-torch``; built with the real
   ingest pipeline when missing), one data dir per set, then merged. SQuAD records carry 3
   distractors; JSQuAD records 1, since SmolLM2's tokenizer spends ~1.75 tokens per Japanese
   character and a 4-block Japanese record runs ~2,600 tokens.
2. ``train``: ``rag_app.finetune.train.train`` (trl SFT + peft LoRA r=8 on all 7 projections,
   completion-only loss), bounded by ``--max-steps``, checkpointed every 5 steps (a rerun resumes).
3. ``export``: the adapter as ``adapter-lora.gguf`` for llama.cpp (``gguf_lora.convert_adapter``).
4. ``eval``: ``bench_answer.py`` workers (one child process per generator and set, so peak RSS
   is each one's own) answer a seeded sample of held-out questions (articles in the data card's
   validation split) of SQuAD and JSQuAD and all of ``docs_corpus/qa.jsonl`` (never trained on),
   with ``extractive``, ``smollm2`` (untuned, llama.cpp) and ``smollm2#adapter=DIR`` (tuned,
   llama.cpp + GGUF LoRA); ``hf:<gguf>#adapter=DIR`` (transformers + peft) on the first
   ``--hf-limit`` questions of each set, for its speed.
5. report: the table (bench_answer's metrics plus the answer-language share), training
   throughput beside the fp32 limit, and fixed examples (cross-language, table).

    python benchmarks/bench_finetune.py                          # everything (~1-2 h on 2 busy cores)
    python benchmarks/bench_finetune.py --phase eval --limit squad=20 --limit jsquad=5 --limit qa=30
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_metrics import has_cjk, summarize_records
from bench_answer import (
    DATASET_FILES,
    BenchQuestion,
    _corpus_questions,
    _dataset_questions,
    ensure_index,
    read_results,
    render_table,
    write_plan,
)
from common import OUT_DIR, REPO, dataset_path, header, header_markdown, loadavg_note, markdown_table

OUT = OUT_DIR / "finetune"
DATA = OUT / "data"
ADAPTER = OUT / "smollm2-raft"
ANSWERS = OUT / "answers"
DISTRACTORS = {"squad": 3, "jsquad": 1}
QUESTIONS_PER_SET = {"squad": 1200, "jsquad": 800}  # questions turned into records (seeded sample)
FP32_GFLOPS = 170.0  # measured fp32 matmul limit of these 2 cores
EXAMPLES = (  # (question, what a correct answer holds): the cross-language and table cases of issue #11
    ("What is the uptime commitment of the Enterprise plan?", "99.95"),
    ("How many days of annual paid leave are granted after six months of employment?", "10"),
)


def phase_data() -> Path:
    from rag_app.finetune.config import DataConfig
    from rag_app.finetune.data import build_dataset, merge_data

    parts = []
    for name in ("squad", "jsquad"):
        out = DATA / name
        parts.append(out)
        if (out / "data_card.json").is_file():
            continue
        index = ensure_index(name)
        cfg = DataConfig(out_dir=out, index_dir=index, embedder="e5-torch", ingest_corpus=False,
                         qa_files=(dataset_path(DATASET_FILES[name]),), distractors=DISTRACTORS[name],
                         refusal_share=0.15, max_questions=QUESTIONS_PER_SET[name], seed=0, progress=True)
        built = build_dataset(cfg)
        print(f"  {name}: {built.total('train')} train / {built.total('valid')} valid records, "
              f"{len(built.issues)} skipped", flush=True)
    return merge_data(parts, DATA / "raft").parent


def train_config(max_steps: int, threads: int = 2) -> Any:
    from rag_app.finetune.config import TrainConfig

    return TrainConfig(base="smollm2", data_dir=DATA / "raft", out_dir=ADAPTER, rank=8, alpha=16,
                       learning_rate=3e-4, max_steps=max_steps, grad_accum=4, max_length=2048, save_steps=5,
                       eval_steps=1000, eval_max_records=24, threads=threads)


def phase_train(max_steps: int, threads: int = 2) -> dict[str, Any]:
    from rag_app.finetune.manifest import training_record
    from rag_app.finetune.train import train

    if (ADAPTER / "ragqa_adapter.json").is_file():
        rec = training_record(ADAPTER)
        if rec["metrics"]["steps"] >= max_steps:  # an interrupted run resumes from its checkpoint
            return rec
    train(train_config(max_steps, threads))
    return training_record(ADAPTER)


def phase_export() -> Path:
    from rag_app.finetune.gguf_lora import convert_adapter
    from rag_app.generators.adapters import GGUF_LORA_FILE
    from rag_app.models import model_path

    out = ADAPTER / GGUF_LORA_FILE
    if not out.is_file() or out.stat().st_mtime < (ADAPTER / "adapter_model.safetensors").stat().st_mtime:
        convert_adapter(ADAPTER, model_path("smollm2"))
    return out


def held_out(name: str, limit: int, seed: int) -> list[BenchQuestion]:
    """A seeded sample of the questions about articles in the data card's validation split."""
    card = json.loads((DATA / name / "data_card.json").read_text(encoding="utf-8"))
    valid = set(card["splits"]["valid"])
    qs = [q for q in _dataset_questions(name) if q.gold_source and q.gold_source.split("/")[0] in valid]
    return random.Random(seed).sample(qs, len(qs))[:limit]  # a smaller limit is a prefix of a bigger one


def generators() -> dict[str, str]:
    from rag_app.models import model_path

    return {"extractive": "extractive", "untuned": "smollm2", "tuned": f"smollm2#adapter={ADAPTER}",
            "tuned-hf": f"hf:{model_path('smollm2')}#adapter={ADAPTER}"}


def phase_eval(limits: dict[str, int], hf_limit: int, seed: int, only: set[str],
               threads: int) -> dict[tuple[str, str], list[str]]:
    """Answers of every generator (``only``: those labels) on each set; returns the plan.
    ``limits``: questions per set (each a prefix of the set's seeded order)."""
    ANSWERS.mkdir(parents=True, exist_ok=True)
    plan: dict[tuple[str, str], list[str]] = {}
    qa = random.Random(seed).sample(_corpus_questions(), len(_corpus_questions()))[: limits["qa"]]
    sets = {"squad": held_out("squad", limits["squad"], seed), "jsquad": held_out("jsquad", limits["jsquad"], seed),
            "qa": qa}
    for set_name, questions in sets.items():
        plan_file = ANSWERS / f"plan-{set_name}.json"
        write_plan(plan_file, questions)
        for label, spec in generators().items():
            n = min(hf_limit, len(questions)) if label == "tuned-hf" else len(questions)
            plan[(spec, set_name)] = [q.qid for q in questions[:n]]
            if only and label not in only:
                continue
            t = time.perf_counter()
            print(f"\n[{label} on {set_name}] {n} questions", flush=True)
            subprocess.call([sys.executable, str(REPO / "benchmarks" / "bench_answer.py"), "--worker", spec,
                             set_name, str(n), str(plan_file), "--out", str(ANSWERS), "--threads", str(threads)])
            print(f"  ({time.perf_counter() - t:.0f} s)", flush=True)
    return plan


def language_share(records: list[dict[str, Any]]) -> float:
    """Share of non-refused answers in the question's language: Japanese questions answered with
    Japanese script, English ones without it (unless a gold answer has it)."""
    answered = [r for r in records if not r["refused"] and r["answerable"]]
    ok = [has_cjk(r["text"]) if r["lang"] == "ja" else (not has_cjk(r["text"]) or any(map(has_cjk, r["golds"])))
          for r in answered]
    return sum(ok) / len(ok) if ok else math.nan


def summarize_any_config(results: list[dict[str, Any]], plan: dict[tuple[str, str], list[str]]) -> dict[str, Any]:
    """``bench_answer.summarize`` without its answer-settings key: the newest record per question.
    The key changes whenever an answer setting is added to ragqa (other work lands during a long
    run); every record here ran with the defaults of its day (recorded in its ``config``)."""
    out: dict[str, Any] = {}
    for (gen, set_name), ids in plan.items():
        wanted = set(ids)
        recs = {r["qid"]: r for r in results if r.get("generator") == gen and r.get("set") == set_name
                and r.get("qid") in wanted}
        if recs:
            s = summarize_records(list(recs.values()))
            s.update(planned=len(ids), errors=sum(1 for r in recs.values() if r.get("error")))
            out[f"{gen}/{set_name}"] = s
    return out


def _loss(m: dict[str, Any]) -> str:
    """First / last logged training loss; the run's mean loss when it stopped before the first log."""
    if m.get("first_loss") is None:
        return f"mean {m['train_loss']:.3f}"
    return f"{m['first_loss']:.3f} / {m['last_loss']:.3f}"


def report(plan: dict[tuple[str, str], list[str]], rec: dict[str, Any]) -> str:
    results = read_results(ANSWERS / "results.jsonl")
    summary = summarize_any_config(results, plan)
    labels = {spec: label for label, spec in generators().items()}
    for key, s in summary.items():
        spec, set_name = key.rsplit("/", 1)
        rows = [r for r in results if r.get("generator") == spec and r.get("set") == set_name
                and r["qid"] in set(plan[(spec, set_name)])]
        s["lang_ok"] = language_share(rows)
    table = render_table({f"{labels[k.rsplit('/', 1)[0]]}/{k.rsplit('/', 1)[1]}": v for k, v in summary.items()})
    lang = markdown_table(["generator", "set", "answers in the question's language"],
                          [[labels[k.rsplit("/", 1)[0]], k.rsplit("/", 1)[1], round(v["lang_ok"], 3)]
                           for k, v in summary.items()])
    m = rec["metrics"]
    params = 134_515_008  # SmolLM2-135M
    limit = FP32_GFLOPS * 1e9 / (4 * params)
    train_md = markdown_table(
        ["steps", "records (train)", "train tokens", "train time s", "tokens/s", "fp32 limit tokens/s",
         "share of limit", "first / last loss", "eval loss", "peak RSS MB", "trainable params"],
        [[m["steps"], m["steps"] * rec["hyperparameters"]["grad_accum"], m["train_tokens"], m["train_s"],
          m["tokens_per_s"], round(limit), round((m["tokens_per_s"] or 0) / limit, 3),
          _loss(m), round(m.get("eval_loss", math.nan), 3),
          m["peak_rss_mb"], m["trainable_params"]]])
    return "\n\n".join([table, lang, train_md])


def examples() -> str:
    from rag_app import RAG
    from rag_app.generators.registry import make_generator

    rag = RAG.from_config(index_dir=str(OUT_DIR / "cache" / "indexes" / "docs_corpus-e5"))
    rows = []
    for label, spec in generators().items():
        if label == "tuned-hf":
            continue
        r = rag.with_settings(generator=spec)
        r._generator = make_generator(spec)
        for q, needle in EXAMPLES:
            a = r.ask(q)
            rows.append([label, q, a.text.replace("\n", " ")[:120].replace("|", "\\|"), needle in a.text])
    return markdown_table(["generator", "question", "answer", "holds " + "/".join(n for _, n in EXAMPLES)], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase", default="all", choices=["all", "data", "train", "export", "eval", "report"])
    ap.add_argument("--max-steps", type=int, default=40, help="optimizer steps (x4 records each)")
    ap.add_argument("--limit", action="append", default=[], metavar="SET=N",
                    help="questions of a set (squad, jsquad: held-out; qa: docs_corpus/qa.jsonl), seeded order; "
                         "default squad=60, jsquad=60, qa=119")
    ap.add_argument("--generators", default="", help="comma-separated labels to run now: extractive, untuned, "
                    "tuned, tuned-hf, or none (default: all; the report covers every planned one found)")
    ap.add_argument("--no-examples", action="store_true", help="skip the fixed cross-language / table examples")
    ap.add_argument("--hf-limit", type=int, default=10, help="questions per set for the hf: (transformers) path")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="llama.cpp threads; 1 is much faster while other processes keep the cores busy")
    ap.add_argument("--train-threads", type=int, default=2,
                    help="torch threads for training (1 leaves a core to other work)")
    args = ap.parse_args()
    h = header(extra_versions=("trl", "peft", "llama_cpp_python"))
    print("## bench_finetune\n\n" + header_markdown(h) + "\n", flush=True)
    if args.phase in ("all", "data"):
        phase_data()
    if args.phase in ("all", "train"):
        phase_train(args.max_steps, args.train_threads)
    if args.phase in ("all", "export"):
        print(phase_export())
    if args.phase in ("data", "train", "export"):
        return
    from rag_app.finetune.manifest import training_record

    only = {g.strip() for g in args.generators.split(",") if g.strip()}
    limits = {"squad": 60, "jsquad": 60, "qa": 119}
    for item in args.limit:
        name, _, n = item.partition("=")
        if name not in limits or not n.isdigit():
            ap.error(f"--limit {item!r}: expected SET=N with SET in {', '.join(limits)}")
        limits[name] = int(n)
    plan = (phase_eval(limits, args.hf_limit, args.seed, only, args.threads)
            if args.phase in ("all", "eval") else None)
    if plan is None:
        plan = json.loads((ANSWERS / "plan.json").read_text())
        plan = {tuple(k.split("|")): v for k, v in plan.items()}
    else:
        (ANSWERS / "plan.json").write_text(json.dumps({"|".join(k): v for k, v in plan.items()}))
    rec = training_record(ADAPTER)
    parts = [report(plan, rec)] + ([] if args.no_examples else [examples()])
    md = "\n\n".join([*parts, f"Load at end{loadavg_note()}."])
    print("\n" + md)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (OUT / f"summary-{stamp}.md").write_text("## bench_finetune\n\n" + header_markdown(h) + "\n\n" + md + "\n")


if __name__ == "__main__":
    main()
