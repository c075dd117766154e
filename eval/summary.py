"""A stored run as numbers: per-question scores of every system, and per-system estimates with
95 % bootstrap intervals and n (overall, per language, per topic).

Per-question metrics (None where one does not apply; each estimate is over the questions where
it applies, so every n is stated):

- answer (answerable questions with a gold answer; a refusal scores 0): ``gold_in`` (the
  normalised gold answer occurs in the answer), ``em``, ``f1`` (token F1, character F1 for
  Japanese), ``supported`` (holds the gold answer *and* cites the gold document);
- ``lang_ok``: a non-refused answer is written in the question's language;
- citations (retrieving systems, non-refused answers): ``cite_valid``, ``cite_gold``;
- refusal: ``refusal_unanswerable`` (unanswerable questions), ``false_refusal`` (answerable),
  ``answered`` (every question: the batch-report number);
- retrieval against the gold documents (chunk ids where the dataset gives them), over the hits a
  system retrieved (``top_k``): ``hit@1``, ``hit@k``, ``recall@k``, ``mrr``, ``ndcg``;
- latency (seconds; medians): ``retrieval_s``, ``first_token_s`` (answers a generator wrote),
  ``total_s``; tokens: ``prompt_tokens``, ``completion_tokens``;
- the ragas metrics of the run (``eval.ragas_scoring``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag_app.types import Answer

from .dataset import Question
from .metrics import NO_GENERATION_REASONS, language_matches, percentile, score_answer, scoring_lang
from .ragas_scoring import ALL_METRICS, LLM_METRICS
from .retrieval_metrics import dedupe, hit_at, ndcg_at, recall_at, reciprocal_rank
from .stats import Estimate, bootstrap
from .store import answers_path, latest_by_key, read_manifest, scores_path

PRIMARY = "gold_in"  # the accuracy number of plots and drill-down order


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    label: str
    group: str
    higher_better: bool = True
    stat: str = "mean"


_BUILT_IN: tuple[MetricDef, ...] = (
    MetricDef("gold_in", "answer holds gold", "answer"),
    MetricDef("em", "exact match", "answer"),
    MetricDef("f1", "F1 (char F1 for ja)", "answer"),
    MetricDef("supported", "correct + cites gold doc", "answer"),
    MetricDef("lang_ok", "answer in question's language", "answer"),
    MetricDef("cite_valid", "citations valid", "citations"),
    MetricDef("cite_gold", "cites gold doc", "citations"),
    MetricDef("refusal_unanswerable", "refusal on unanswerable", "refusal"),
    MetricDef("false_refusal", "false refusal on answerable", "refusal", higher_better=False),
    MetricDef("answered", "answered (not refused)", "refusal"),
    MetricDef("hit@1", "gold doc hit@1", "retrieval"),
    MetricDef("hit@k", "gold doc hit@k", "retrieval"),
    MetricDef("recall@k", "gold recall@k", "retrieval"),
    MetricDef("mrr", "MRR@k", "retrieval"),
    MetricDef("ndcg", "nDCG@k", "retrieval"),
    MetricDef("retrieval_s", "retrieval s (median)", "latency", higher_better=False, stat="median"),
    MetricDef("first_token_s", "first token s (median)", "latency", higher_better=False, stat="median"),
    MetricDef("total_s", "total s (median)", "latency", higher_better=False, stat="median"),
    MetricDef("prompt_tokens", "prompt tokens", "tokens", higher_better=False),
    MetricDef("completion_tokens", "completion tokens", "tokens", higher_better=False),
)
_RAGAS = tuple(MetricDef(m, m.removeprefix("ragas_").replace("_", " "),
                         "ragas (judged)" if m in LLM_METRICS else "ragas (offline)") for m in ALL_METRICS)
METRICS: tuple[MetricDef, ...] = (*_BUILT_IN, *_RAGAS)
METRIC_BY_NAME = {m.name: m for m in METRICS}
Scores = dict[str, float | None]


def _answer_scores(q: Question, a: Answer, retrieves: bool) -> Scores:
    out: Scores = {"answered": float(not a.refused)}
    if q.answerable is False:
        out["refusal_unanswerable"] = float(a.refused)
    if q.answerable:
        out["false_refusal"] = float(a.refused)
        if q.golds:
            s = score_answer(a.text, list(q.golds), scoring_lang(q.lang, q.golds), a.refused)
            cites = any(c.source in q.gold_sources for c in a.citations)
            out.update(gold_in=s["gold_in"], em=s["em"], f1=s["f1"],
                       supported=s["gold_in"] * float(cites or not q.gold_sources))
    if not a.refused:
        out["lang_ok"] = language_matches(a.text, q.lang)
        if retrieves:
            out["cite_valid"] = float(bool(a.citations) and a.invalid_citations == 0)
            if q.gold_sources:
                out["cite_gold"] = float(any(c.source in q.gold_sources for c in a.citations))
    return out


def _retrieval_scores(q: Question, a: Answer) -> Scores:
    if q.answerable is False or not (q.gold_chunk_ids or q.gold_sources):
        return {}
    if q.gold_chunk_ids:
        gold, ranked = set(q.gold_chunk_ids), [h.chunk.id for h in a.retrieved]
    else:
        gold, ranked = set(q.gold_sources), dedupe([h.chunk.source for h in a.retrieved])
    k = max(1, len(ranked))
    return {"hit@1": hit_at(ranked, gold, 1), "hit@k": hit_at(ranked, gold, k), "recall@k": recall_at(ranked, gold, k),
            "mrr": reciprocal_rank(ranked, gold, k), "ndcg": ndcg_at(ranked, gold, k)}


def _cost_scores(a: Answer) -> Scores:
    t = a.timings
    generated = not str(a.refusal_reason or "").startswith(NO_GENERATION_REASONS)
    return {"retrieval_s": t.get("retrieval"), "first_token_s": t.get("first_token") if generated else None,
            "total_s": t.get("total"), "prompt_tokens": _num(a.tokens.get("prompt")) if generated else None,
            "completion_tokens": _num(a.tokens.get("completion")) if generated else None}


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def question_scores(q: Question, a: Answer, retrieves: bool) -> Scores:
    """Every built-in metric of one answer (see the module docstring); None-valued ones are left out."""
    out = _answer_scores(q, a, retrieves)
    if retrieves:
        out.update(_retrieval_scores(q, a))
    out.update(_cost_scores(a))
    return {k: v for k, v in out.items() if v is not None}


# -- a stored run ---------------------------------------------------------------------------------
@dataclass
class SystemRun:
    """One system's stored results for the run's planned questions."""

    label: str
    spec: dict[str, Any]
    answers: dict[str, Answer] = field(default_factory=dict)  # qid -> answer
    errors: dict[str, str] = field(default_factory=dict)  # qid -> last error (no answer stored)
    scores: dict[str, Scores] = field(default_factory=dict)  # qid -> built-in + ragas scores
    failures: dict[str, dict[str, str]] = field(default_factory=dict)  # qid -> ragas metric -> why
    rss_mb: float = math.nan
    wall_s: dict[str, float] = field(default_factory=dict)  # qid -> harness wall time of the answer

    @property
    def retrieves(self) -> bool:
        return self.spec.get("family") in ("extractive", "rag", "rag+ft")


@dataclass
class RunData:
    out_dir: Path
    manifest: dict[str, Any]
    questions: list[Question]
    systems: list[SystemRun]

    @property
    def by_qid(self) -> dict[str, Question]:
        return {q.qid: q for q in self.questions}


def load_run(out_dir: Path | str) -> RunData:
    """The manifest, questions and each system's planned answers and scores of a run folder."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    questions = [Question.from_dict(r) for r in read_jsonl_plain(out / "questions.jsonl")]
    by_qid = {q.qid: q for q in questions}
    systems = []
    for spec in manifest["systems"]:
        label = spec["label"]
        sr = SystemRun(label=label, spec=spec)
        records = latest_by_key(answers_path(out, spec["slug"]))
        score_recs = latest_by_key(scores_path(out, spec["slug"]))
        score_keys = manifest.get("scoring", {}).get("keys", {}).get(label, {})
        for qid, key in manifest["plan"][label].items():
            rec = records.get(key)
            if rec is None or qid not in by_qid:
                continue
            if rec.get("answer") is None:
                sr.errors[qid] = str(rec.get("error"))
                continue
            a = Answer.from_dict(rec["answer"])
            sr.answers[qid] = a
            sr.wall_s[qid] = float(rec.get("wall_s") or math.nan)
            sr.rss_mb = float(rec["rss_mb"]) if math.isnan(sr.rss_mb) else max(sr.rss_mb, float(rec["rss_mb"]))
            sc = question_scores(by_qid[qid], a, sr.retrieves)
            srec = score_recs.get(score_keys.get(qid, ""))
            if srec:
                sc.update({k: v for k, v in srec["scores"].items() if v is not None})
                if srec.get("failures"):
                    sr.failures[qid] = dict(srec["failures"])
            sr.scores[qid] = sc
        systems.append(sr)
    return RunData(out, manifest, questions, systems)


def read_jsonl_plain(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# -- estimates ------------------------------------------------------------------------------------
def estimate(system: SystemRun, metric: str, qids: Iterable[str] | None = None) -> Estimate:
    wanted = set(qids) if qids is not None else None
    values = [s[metric] for qid, s in system.scores.items()
              if metric in s and s[metric] is not None and (wanted is None or qid in wanted)]
    return bootstrap([float(v) for v in values if v is not None], METRIC_BY_NAME[metric].stat)


def metrics_present(run: RunData) -> list[str]:
    """The metrics some system has a value for, in ``METRICS`` order."""
    seen = {k for s in run.systems for sc in s.scores.values() for k in sc}
    return [m.name for m in METRICS if m.name in seen]


def summary_table(run: RunData) -> dict[str, dict[str, Estimate]]:
    """label -> metric -> estimate."""
    names = metrics_present(run)
    return {s.label: {m: estimate(s, m) for m in names} for s in run.systems}


def breakdown(run: RunData, key: str, metric: str = PRIMARY) -> dict[str, dict[str, Estimate]]:
    """label -> group -> estimate of ``metric``, grouping questions by ``key`` ("lang" | "topic")."""
    groups: dict[str, list[str]] = {}
    for q in run.questions:
        groups.setdefault(getattr(q, key) or "(none)", []).append(q.qid)
    table = {s.label: {g: estimate(s, metric, qids) for g, qids in sorted(groups.items())} for s in run.systems}
    empty = {g for g in groups if all(row[g].n == 0 for row in table.values())}  # e.g. unanswerable for gold_in
    return {label: {g: e for g, e in row.items() if g not in empty} for label, row in table.items()}


def latency_percentiles(system: SystemRun) -> dict[str, float]:
    totals = [a.timings.get("total", math.nan) for a in system.answers.values()]
    return {"p50": percentile(totals, 50), "p95": percentile(totals, 95)}


def primary_score(q: Question, scores: Mapping[str, float | None]) -> float | None:
    """The per-question number the drill-down orders by: gold in answer (answerable), refused
    (unanswerable); None for a question without a reference."""
    if q.answerable is False:
        return scores.get("refusal_unanswerable")
    return scores.get(PRIMARY)


def regression_order(run: RunData, baseline: str | None = None) -> list[tuple[Question, float]]:
    """Questions by the largest drop of any system below the baseline (first system), worst first;
    with one system, its failures first."""
    systems = run.systems
    base = next((s for s in systems if s.label == baseline), systems[0] if systems else None)
    rows = []
    for q in run.questions:
        b = primary_score(q, base.scores.get(q.qid, {})) if base else None
        others = [primary_score(q, s.scores.get(q.qid, {})) for s in systems if s is not base]
        deltas = [o - b for o in others if o is not None and b is not None]
        rows.append((q, min(deltas) if deltas else (b - 1.0 if b is not None else 0.0)))
    return sorted(rows, key=lambda r: r[1])


def judge_failures(system: SystemRun) -> dict[str, int]:
    out: dict[str, int] = {}
    for fl in system.failures.values():
        for m in fl:
            out[m] = out.get(m, 0) + 1
    return out
