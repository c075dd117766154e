"""``eval.run``: every question through every system, answers and traces stored per question,
then the ragas metrics over them. Resumable: an answer is stored under a key of everything that
changes it, and a re-run skips the keys already stored.

Phases: load the dataset -> parse and check every system, the judge and the metrics (all errors
come before any work) -> open one RAG per index -> plan the keys -> answer (progress bar with
ETA) -> score with ragas -> write ``run.json``. A system that fails 3 questions in a row is
stopped with its error; the others go on.
"""

from __future__ import annotations

import datetime as _dt
import gc
import hashlib
import json
import random
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .answering import AnsweringSystem, ClosedBookSystem, RagSystem, make_system_generator
from .dataset import Dataset, Question, load_dataset
from .judge import JudgeSpec, check_judge, parse_judge
from .metadata import HashCache, git_sha, machine
from .ragas_scoring import LLM_METRICS, OFFLINE_METRICS, RAGAS_HINT, check_metrics
from .store import RUN_FORMAT_VERSION, Appender, answers_path, latest_by_key, scores_path, write_json_atomic
from .systems import SystemSpec, parse_systems, resolve

MAX_FAILURES_IN_A_ROW = 3
SCORE_BATCH = 64


@dataclass(frozen=True)
class RunConfig:
    dataset: Path  # qa.jsonl / SQuAD JSON / ragas JSONL / CSV (``eval.dataset``)
    systems: tuple[str, ...]  # system specs (``eval.systems``)
    out_dir: Path
    index_dir: Path | None = None  # default: the configured index ($RAGQA_INDEX or ./.ragqa)
    embedder: str | None = None  # the index's embedder (default: configured, $RAGQA_EMBEDDER or e5)
    config_file: Path | None = None  # ragqa.toml
    judge: str | None = None  # ``eval.judge`` spec; None: no LLM-judged metric
    metrics: tuple[str, ...] | None = None  # ragas metrics; None: the offline ones (+ the judged ones with a judge)
    threads: int | None = None  # llama.cpp threads of local GGUF models (default: every core)
    limit: int | None = None  # the first N of a seeded shuffle (a bigger N contains a smaller one)
    seed: int = 0
    dataset_format: str = "auto"
    progress: bool = True  # tqdm bar on stderr

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}


@dataclass
class RunResult:
    out_dir: Path
    answered: int = 0  # new answers this run
    skipped: int = 0  # already stored
    errors: list[str] = field(default_factory=list)  # "system qid: message"
    scored: int = 0
    score_failures: int = 0
    notes: list[str] = field(default_factory=list)
    stats: dict[str, dict[str, float]] = field(default_factory=dict)


def select_questions(dataset: Dataset, limit: int | None, seed: int) -> list[Question]:
    """All questions in file order, or the first ``limit`` of a ``seed``-ed shuffle (file order kept)."""
    qs = list(dataset.questions)
    if limit is None or limit >= len(qs):
        return qs
    if limit < 1:
        raise ValueError(f"limit={limit} must be >= 1")
    chosen = {q.qid for q in random.Random(seed).sample(qs, len(qs))[:limit]}
    return [q for q in qs if q.qid in chosen]


def answer_key(identity: dict[str, Any], q: Question) -> str:
    blob = json.dumps({"identity": identity, "question": q.input_hash()}, sort_keys=True, ensure_ascii=False,
                      default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def score_key(answer_key_: str, metrics: Sequence[str], judge: JudgeSpec | None) -> str:
    blob = json.dumps({"answer": answer_key_, "metrics": sorted(metrics), "judge": judge.text if judge else None})
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def _ragas_metrics(config: RunConfig, judge: JudgeSpec | None, notes: list[str]) -> list[str]:
    import importlib.util

    if config.metrics is not None:
        metrics = list(config.metrics)
        check_metrics(metrics, judge is not None)
        if metrics and importlib.util.find_spec("ragas") is None:
            raise ImportError(f"--metrics {','.join(metrics)} needs ragas: {RAGAS_HINT}")
        return metrics
    if importlib.util.find_spec("ragas") is None:
        notes.append(f"ragas metrics skipped: ragas is not installed ({RAGAS_HINT})")
        return []
    return list(OFFLINE_METRICS) + (list(LLM_METRICS) if judge else [])


def _build_systems(specs: Sequence[SystemSpec], config: RunConfig, hashes: HashCache) -> tuple[list[AnsweringSystem], list[Any]]:
    """One system object per spec, and the run's RAG per (index, embedder): rag systems are made
    from it with ``RAG.with_settings`` and share its opened index, held open for the whole run."""
    from ingest.catalog import IndexMismatchError
    from rag_app import RAG

    bases: dict[tuple[str | None, str | None], RAG] = {}
    out: list[AnsweringSystem] = []
    for spec in specs:
        where = (spec.retrieval.index or (str(config.index_dir) if config.index_dir else None),
                 spec.retrieval.embedder or config.embedder)
        if where not in bases:
            bases[where] = RAG.from_config(config.config_file, index_dir=where[0], embedder=where[1],
                                           generator="extractive")
        base = bases[where]
        if not spec.uses_retrieval:
            out.append(ClosedBookSystem(spec, base, hashes, config.threads))
            continue
        if not base.status().exists:
            raise IndexMismatchError(
                f"{spec.label}: the index {base.config.index.index_dir} holds no documents: build it with "
                f"`ragqa ingest docs_corpus --index {base.config.index.index_dir}` (or pass --index)")
        _ = base.reader  # opened once here, shared by every with_settings copy
        with_gen = base.with_settings(generator=spec.generator)
        if config.threads:  # with_settings keeps a generator handed in for the same spec
            with_gen = RAG(with_gen.config, generator=make_system_generator(spec.generator, config.threads))
        out.append(RagSystem(spec, with_gen.with_settings(**spec.retrieval.answer_overrides()), hashes))
    return out, list(bases.values())


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _record(system: AnsweringSystem, key: str, q: Question, answer: Any, error: str | None, wall_s: float) -> dict[str, Any]:
    return {"key": key, "qid": q.qid, "system": system.spec.label,
            "answer": answer.to_dict() if answer is not None else None, "error": error,
            "wall_s": round(wall_s, 5), "rss_mb": _rss_mb(),
            "at": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def _answer_system(system: AnsweringSystem, todo: list[tuple[Question, str]], out_dir: Path, bar: Any,
                   result: RunResult) -> dict[str, float]:
    """Answer ``todo`` with one system, appending each record as it is done. Returns its timings:
    ``wall_s`` of the loop, ``answer_s`` spent inside the system (retrieval + generation + RAG's
    own steps: ``Answer.timings["total"]``), ``n``."""
    label = system.spec.label
    in_a_row: list[str] = []
    answer_s = 0.0
    t_loop = time.perf_counter()
    with Appender(answers_path(out_dir, system.spec.slug)) as app:
        for q, key in todo:
            bar.set_postfix_str(label, refresh=False)
            t0 = time.perf_counter()
            try:
                answer, error = system.answer(q), None
            except Exception as e:  # one failing question must not end a long run
                answer, error = None, f"{type(e).__name__}: {e}"
            wall = time.perf_counter() - t0
            answer_s += float(answer.timings.get("total", wall)) if answer is not None else wall
            app.append(_record(system, key, q, answer, error, wall))
            bar.update(1)
            if error is None:
                result.answered += 1
                in_a_row.clear()
                continue
            result.errors.append(f"{label} {q.qid}: {error}")
            in_a_row.append(error)
            if len(in_a_row) >= MAX_FAILURES_IN_A_ROW:
                result.notes.append(f"{label}: stopped after {len(in_a_row)} failures in a row; last: {error}")
                break
    return {"wall_s": time.perf_counter() - t_loop, "answer_s": answer_s, "n": float(len(todo))}


def _score_system(system: AnsweringSystem, questions: dict[str, Question], keys: dict[str, str], out_dir: Path,
                  metrics: list[str], judge: JudgeSpec | None, llm: Any, embeddings: Any, result: RunResult) -> None:
    from rag_app import Answer

    from .ragas_scoring import ragas_row, score_rows

    answers = latest_by_key(answers_path(out_dir, system.spec.slug))
    done = latest_by_key(scores_path(out_dir, system.spec.slug))
    todo = []
    for qid, akey in keys.items():
        rec = answers.get(akey)
        skey = score_key(akey, metrics, judge)
        if rec is None or rec.get("answer") is None or (skey in done and not done[skey].get("failures")):
            continue
        todo.append((questions[qid], skey, Answer.from_dict(rec["answer"])))
    with Appender(scores_path(out_dir, system.spec.slug)) as app:
        for start in range(0, len(todo), SCORE_BATCH):
            batch = todo[start:start + SCORE_BATCH]
            rows = [ragas_row(q, a, system.spec.uses_retrieval) for q, _, a in batch]
            scored = score_rows(rows, metrics, llm=llm, embeddings=embeddings)
            for (q, skey, _), sc, fl in zip(batch, scored.scores, scored.failures, strict=True):
                app.append({"key": skey, "qid": q.qid, "system": system.spec.label, "scores": sc, "failures": fl})
                result.scored += 1
                result.score_failures += len(fl)


def _prepare(config: RunConfig) -> tuple[Dataset, list[Question], list[SystemSpec], JudgeSpec | None, list[str], list[str]]:
    """Everything that can fail on the user's input, checked before any work."""
    dataset = load_dataset(config.dataset, fmt=config.dataset_format)
    questions = select_questions(dataset, config.limit, config.seed)
    specs = [resolve(s) for s in parse_systems(",".join(config.systems))]
    judge = parse_judge(config.judge) if config.judge else None
    notes: list[str] = []
    metrics = _ragas_metrics(config, judge, notes)
    if judge is not None and any(m in LLM_METRICS for m in metrics):
        check_judge(judge)
    return dataset, questions, specs, judge, metrics, notes


def _manifest(config: RunConfig, dataset: Dataset, questions: list[Question], systems: list[AnsweringSystem],
              identities: list[dict[str, Any]], plan: dict[str, dict[str, str]], metrics: list[str],
              judge: JudgeSpec | None) -> dict[str, Any]:
    return {
        "format_version": RUN_FORMAT_VERSION,
        "updated": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        "config": config.to_dict(),
        "dataset": {"path": dataset.path, "sha256": dataset.sha256, "format": dataset.format,
                    "questions_in_file": len(dataset.questions), "questions_run": len(questions),
                    "problems": [str(p) for p in dataset.problems[:100]], "n_problems": len(dataset.problems)},
        "systems": [{**s.spec.to_dict(), "slug": s.spec.slug, "identity": ident}
                    for s, ident in zip(systems, identities, strict=True)],
        "plan": plan,
        "scoring": {"metrics": metrics, "judge": judge.text if judge else None,
                    "keys": {label: {qid: score_key(k, metrics, judge) for qid, k in keys.items()}
                             for label, keys in plan.items()}},
        "metadata": {"git_sha": git_sha(), "machine": machine()},
    }


def make_config(**fields: Any) -> RunConfig:
    """A ``RunConfig`` from keywords; ``systems`` may be one comma-separated string or a list,
    paths may be strings."""
    from .systems import split_systems

    systems = fields.pop("systems")
    items = [systems] if isinstance(systems, str) else list(systems)
    paths = {k: Path(v) for k, v in fields.items() if k in ("dataset", "out_dir", "index_dir", "config_file")
             and v is not None}
    metrics = fields.pop("metrics", None)
    return RunConfig(**{**fields, **paths}, systems=tuple(x for item in items for x in split_systems(item)),
                     metrics=None if metrics is None else tuple(metrics))


def run(config: RunConfig | None = None, /, **fields: Any) -> RunResult:
    """Answer, store and score; see the module docstring. ``run(RunConfig(...))`` or
    ``run(dataset=..., systems="extractive,rag:smollm2", out_dir=...)``. Errors in the input (bad
    dataset, unknown system, missing adapter or model, unreachable judge, LLM metric without a
    judge) are raised before anything is computed; nothing stored is lost on a later error or a kill."""
    from tqdm import tqdm

    if config is None:
        config = make_config(**fields)
    elif fields:
        raise TypeError("give a RunConfig or keyword fields, not both")

    dataset, questions, specs, judge, metrics, notes = _prepare(config)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = RunResult(out_dir=out, notes=notes)
    result.notes += [str(p) for p in dataset.problems]
    hashes = HashCache(out / "hashes.json")
    systems, bases = _build_systems(specs, config, hashes)
    identities = [s.identity() for s in systems]
    plan = {s.spec.label: {q.qid: answer_key(ident, q) for q in questions} for s, ident in zip(systems, identities, strict=True)}
    with (out / "questions.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(q.to_dict(), ensure_ascii=False) + "\n" for q in questions)
    manifest = _manifest(config, dataset, questions, systems, identities, plan, metrics, judge)
    write_json_atomic(out / "run.json", manifest)

    todos = []
    for s in systems:
        stored = {k for k, r in latest_by_key(answers_path(out, s.spec.slug)).items() if r.get("answer") is not None}
        todo = [(q, plan[s.spec.label][q.qid]) for q in questions if plan[s.spec.label][q.qid] not in stored]
        result.skipped += len(questions) - len(todo)
        todos.append(todo)
    try:
        with tqdm(total=sum(len(t) for t in todos), unit="q", disable=not config.progress, dynamic_ncols=True,
                  desc="answering") as bar:
            for s, todo in zip(systems, todos, strict=True):
                if todo:
                    result.stats[s.spec.label] = _answer_system(s, todo, out, bar, result)
                s.close()
                gc.collect()
        if metrics:
            by_qid = {q.qid: q for q in questions}
            llm = embeddings = None
            if judge is not None and any(m in LLM_METRICS for m in metrics):
                from .judge import ragas_embeddings, ragas_llm

                llm = ragas_llm(judge)
                embeddings = ragas_embeddings(bases[0].config.index.embedder)
            for s in systems:
                _score_system(s, by_qid, plan[s.spec.label], out, metrics, judge, llm, embeddings, result)
    finally:
        for b in bases:
            b.close()
        manifest["last_run"] = {"answered": result.answered, "skipped": result.skipped, "errors": len(result.errors),
                                "scored": result.scored, "score_failures": result.score_failures,
                                "stats": result.stats, "notes": result.notes[:200]}
        write_json_atomic(out / "run.json", manifest)
    return result
