"""``ragqa eval compare DIR_A DIR_B``: what got better or worse between two runs, per system present
in both and per metric, with a paired bootstrap over the questions both answered, and the
questions whose primary score changed (biggest drops first)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .stats import PairedDiff, paired_bootstrap
from .summary import METRIC_BY_NAME, METRICS, RunData, SystemRun, load_run, primary_score


@dataclass(frozen=True, slots=True)
class MetricChange:
    system: str
    metric: str
    a: float  # mean over the paired questions
    b: float
    diff: PairedDiff

    @property
    def verdict(self) -> str:
        if not self.diff.significant:
            return "no significant change"
        better = (self.diff.delta > 0) == METRIC_BY_NAME[self.metric].higher_better
        return "better" if better else "worse"


@dataclass(frozen=True, slots=True)
class QuestionChange:
    system: str
    qid: str
    question: str
    a: float
    b: float
    answer_a: str
    answer_b: str


@dataclass(frozen=True, slots=True)
class Comparison:
    dir_a: str
    dir_b: str
    systems: tuple[str, ...]  # labels in both runs
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    metrics: tuple[MetricChange, ...]
    questions: tuple[QuestionChange, ...]  # primary score changed, worst drop first

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.dir_a, "b": self.dir_b, "systems": list(self.systems), "only_a": list(self.only_a),
                "only_b": list(self.only_b),
                "metrics": [{"system": c.system, "metric": c.metric, "a": c.a, "b": c.b, "verdict": c.verdict,
                             **c.diff.to_dict()} for c in self.metrics],
                "questions": [vars_(q) for q in self.questions]}


def vars_(q: QuestionChange) -> dict[str, Any]:
    return {f: getattr(q, f) for f in QuestionChange.__slots__}


def _paired(sa: SystemRun, sb: SystemRun, metric: str) -> tuple[list[float], list[float]]:
    qids = [q for q in sa.scores if q in sb.scores and sa.scores[q].get(metric) is not None
            and sb.scores[q].get(metric) is not None]
    return [float(sa.scores[q][metric] or 0.0) for q in qids], [float(sb.scores[q][metric] or 0.0) for q in qids]


def _question_changes(ra: RunData, sa: SystemRun, sb: SystemRun) -> list[QuestionChange]:
    out = []
    for q in ra.questions:
        pa, pb = primary_score(q, sa.scores.get(q.qid, {})), primary_score(q, sb.scores.get(q.qid, {}))
        if pa is None or pb is None or pa == pb:
            continue
        aa, ab = sa.answers.get(q.qid), sb.answers.get(q.qid)
        out.append(QuestionChange(sa.label, q.qid, q.text, pa, pb, aa.text if aa else "", ab.text if ab else ""))
    return out


def compare_runs(dir_a: Path | str, dir_b: Path | str) -> Comparison:
    ra, rb = load_run(dir_a), load_run(dir_b)
    a_by = {s.label: s for s in ra.systems}
    b_by = {s.label: s for s in rb.systems}
    common = [lbl for lbl in a_by if lbl in b_by]
    changes: list[MetricChange] = []
    questions: list[QuestionChange] = []
    for label in common:
        sa, sb = a_by[label], b_by[label]
        for m in METRICS:
            xa, xb = _paired(sa, sb, m.name)
            if not xa:
                continue
            changes.append(MetricChange(label, m.name, sum(xa) / len(xa), sum(xb) / len(xb), paired_bootstrap(xa, xb)))
        questions += _question_changes(ra, sa, sb)
    questions.sort(key=lambda c: c.b - c.a)
    return Comparison(str(dir_a), str(dir_b), tuple(common), tuple(x for x in a_by if x not in b_by),
                      tuple(x for x in b_by if x not in a_by), tuple(changes), tuple(questions))


def render_comparison(c: Comparison, max_questions: int = 30) -> str:
    """Markdown: the metric table (A, B, B − A [95 % interval], p, n, verdict) and the changed questions."""
    lines = [f"# {c.dir_b} vs {c.dir_a}", ""]
    if c.only_a or c.only_b:
        lines += [f"Systems only in A: {list(c.only_a)}; only in B: {list(c.only_b)}", ""]
    if not c.systems:
        return "\n".join([*lines, "No system is in both runs: nothing to compare (systems match by label).", ""])
    lines += ["| system | metric | A | B | B − A [95 % CI] | p | n | verdict |", "|---|---|---|---|---|---|---|---|"]
    for m in c.metrics:
        d = m.diff
        lines.append(f"| {m.system} | {METRIC_BY_NAME[m.metric].label} | {m.a:.3f} | {m.b:.3f} | "
                     f"{d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}] | {d.p_value:.3f} | {d.n} | {m.verdict} |")
    lines += ["", f"## Questions that changed ({len(c.questions)}; biggest drops first)", ""]
    for q in c.questions[:max_questions]:
        lines.append(f"- {q.system} {q.qid} {q.a:.0f} → {q.b:.0f}: {q.question} — A: {q.answer_a[:120]!r} "
                     f"B: {q.answer_b[:120]!r}")
    return "\n".join(lines) + "\n"
