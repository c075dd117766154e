"""``ragqa eval report DIR``: a run folder as a self-contained HTML page (plots embedded as PNG,
opens offline), Markdown, CSV (one row per system x metric) and JSON.

Sections: run metadata, summary table (every number with its 95 % interval and n), plots (bars
with error bars per metric, accuracy vs latency, per-language and per-topic breakdowns), the
refusal trade-off, and the per-question drill-down (question, gold, each system's answer with
its citations and contexts), worst regressions against the baseline system first.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .stats import Estimate
from .summary import (
    METRIC_BY_NAME,
    PRIMARY,
    RunData,
    breakdown,
    judge_failures,
    latency_percentiles,
    load_run,
    metrics_present,
    regression_order,
    summary_table,
)

PLOT_METRICS = ("gold_in", "f1", "supported", "cite_valid", "refusal_unanswerable", "false_refusal", "hit@1",
                "ndcg", "lang_ok", "ragas_chrf", "ragas_string_similarity", "ragas_id_context_recall",
                "ragas_faithfulness", "ragas_factual_correctness", "ragas_response_relevancy")
SNIPPET = 300  # characters of a context shown in the drill-down


@dataclass(frozen=True, slots=True)
class ReportFiles:
    html: Path
    markdown: Path
    csv: Path
    json: Path


@dataclass
class _Parts:
    """What both renderings show, computed once."""

    run: RunData
    table: dict[str, dict[str, Estimate]]
    metrics: list[str]
    by_lang: dict[str, dict[str, Estimate]]
    by_topic: dict[str, dict[str, Estimate]]
    plots: list[tuple[str, bytes]]
    font_note: str | None
    baseline: str


def _plots(run: RunData, table: dict[str, dict[str, Estimate]], metrics: list[str], by_lang: Any,
           by_topic: Any) -> tuple[list[tuple[str, bytes]], str | None]:
    from . import plots

    font = plots.cjk_font()
    note = None if font else ("No CJK font was found, so Japanese text in the plots renders as boxes: "
                              f"{plots.CJK_FONT_HINT}")
    shown = [(m, METRIC_BY_NAME[m].label) for m in PLOT_METRICS if m in metrics]
    out = []
    if shown:
        out.append(("Metrics per system (bars: 95 % bootstrap interval)", plots.metric_bars(table, shown, font)))
    if PRIMARY in metrics and "total_s" in metrics:
        pts = {s: (t["total_s"], t[PRIMARY]) for s, t in table.items()}
        out.append(("Accuracy vs latency", plots.accuracy_vs_latency(pts, METRIC_BY_NAME[PRIMARY].label, font)))
    if PRIMARY in metrics:
        out.append((f"Per language: {METRIC_BY_NAME[PRIMARY].label}",
                    plots.grouped_bars(by_lang, "per language", font)))
        out.append((f"Per topic (gold document's folder / article): {METRIC_BY_NAME[PRIMARY].label}",
                    plots.grouped_bars(by_topic, "per topic", font)))
    if "false_refusal" in metrics and "refusal_unanswerable" in metrics:
        pts = {s: (t["false_refusal"], t["refusal_unanswerable"]) for s, t in table.items()}
        out.append(("Refusal trade-off", plots.refusal_tradeoff(pts, font)))
    return out, note


def _parts(run: RunData, baseline: str | None) -> _Parts:
    table = summary_table(run)
    metrics = metrics_present(run)
    by_lang = breakdown(run, "lang") if PRIMARY in metrics else {}
    by_topic = breakdown(run, "topic") if PRIMARY in metrics else {}
    plots, note = _plots(run, table, metrics, by_lang, by_topic)
    base = baseline or (run.systems[0].label if run.systems else "")
    if run.systems and base not in {s.label for s in run.systems}:
        raise ValueError(f"baseline {base!r} is not a system of this run; allowed: {[s.label for s in run.systems]}")
    return _Parts(run, table, metrics, by_lang, by_topic, plots, note, base)


# -- shared pieces ----------------------------------------------------------------------------------
def _metadata_rows(run: RunData) -> list[tuple[str, str]]:
    m = run.manifest
    ds = m["dataset"]
    mach = m.get("metadata", {}).get("machine", {})
    rows = [("dataset", f"{ds['path']} ({ds['format']}, sha256 {ds['sha256'][:12]}…): {ds['questions_run']} of "
                        f"{ds['questions_in_file']} questions, {ds['n_problems']} bad lines skipped"),
            ("command", str(m.get("command") or "eval.run(...)")),
            ("git", str(m.get("metadata", {}).get("git_sha"))),
            ("machine", f"{mach.get('cpu')}, {mach.get('cores')} cores, {mach.get('ram_gb')} GB, "
                        f"load {mach.get('loadavg')}, Python {mach.get('python')}"),
            ("versions", ", ".join(f"{k} {v}" for k, v in mach.get("versions", {}).items())),
            ("scoring", f"ragas metrics: {', '.join(m['scoring']['metrics']) or 'none'}; "
                        f"judge: {m['scoring']['judge'] or 'none (no LLM-judged metric)'}"),
            ("updated", str(m.get("updated")))]
    for s in m["systems"]:
        ident = s["identity"]
        model = ident.get("model", {})
        bits = [f"generator {s['generator']}"]
        if model.get("model_sha256"):
            bits.append(f"model sha256 {model['model_sha256'][:12]}…")
        if model.get("adapter_sha256"):
            bits.append(f"adapter sha256 {model['adapter_sha256'][:12]}…")
        if "index" in ident:
            ix = ident["index"]
            bits.append(f"index {ix['index_dir']} (generation {ix['generation']}, {ix['documents']} docs, "
                        f"{ix['chunks']} chunks, {ix['embedder_id']})")
        answer = ident.get("settings", {}).get("answer", {})
        bits.append("settings " + ", ".join(f"{k}={v}" for k, v in answer.items() if k != "generator"))
        rows.append((f"system {s['label']}", "; ".join(bits)))
    stats = m.get("last_run", {}).get("stats", {})
    for label, st in stats.items():
        if st.get("wall_s"):
            share = max(0.0, (st["wall_s"] - st["answer_s"]) / st["wall_s"])
            rows.append((f"harness overhead {label}", f"{share:.2%} of {st['wall_s']:.1f} s answering "
                                                       f"{int(st['n'])} questions (last run)"))
    return rows


def _count_rows(run: RunData) -> list[tuple[str, list[str]]]:
    rows = [("answers stored", [str(len(s.answers)) for s in run.systems]),
            ("errors (no answer)", [str(len(s.errors)) for s in run.systems]),
            ("ragas failures (judge / metric)", [_failures_text(judge_failures(s)) for s in run.systems]),
            ("total s p50 / p95", [_lat(latency_percentiles(s)) for s in run.systems]),
            ("peak RSS MB (process, so far)", ["–" if math.isnan(s.rss_mb) else f"{s.rss_mb:.0f}" for s in run.systems])]
    return rows


def _failures_text(fails: dict[str, int]) -> str:
    return ", ".join(f"{m.removeprefix('ragas_')}: {n}" for m, n in fails.items()) or "0"


def _lat(p: dict[str, float]) -> str:
    return "–" if math.isnan(p["p50"]) else f"{p['p50']:.2f} / {p['p95']:.2f}"


def _answer_line(a: Any) -> str:
    if a is None:
        return "(no answer)"
    cites = ", ".join(sorted({c.source for c in a.citations}))
    flag = f" [refused: {a.refusal_reason}]" if a.refused else ""
    return f"{a.text.strip()}{flag}" + (f" — cites {cites}" if cites else "")


# -- Markdown -----------------------------------------------------------------------------------------
def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(x: str) -> str:
        return x.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(p: _Parts, drill_limit: int | None = None) -> str:
    run, labels = p.run, [s.label for s in p.run.systems]
    out = ["# Evaluation report", "", "## Run", "", _md_table(["", ""], [list(r) for r in _metadata_rows(run)]), ""]
    if run.manifest.get("last_run", {}).get("notes"):
        out += ["Notes:", ""] + [f"- {n}" for n in run.manifest["last_run"]["notes"][:20]] + [""]
    if p.font_note:
        out += [f"> {p.font_note}", ""]
    out += ["## Summary (value [95 % bootstrap interval] n)", ""]
    rows = [[f"{METRIC_BY_NAME[m].label} ({METRIC_BY_NAME[m].group})"] + [p.table[s][m].format() for s in labels]
            for m in p.metrics]
    rows += [[name, *vals] for name, vals in _count_rows(run)]
    out += [_md_table(["metric", *labels], rows), ""]
    for title, data in (("Per language", p.by_lang), ("Per topic", p.by_topic)):
        if data:
            groups = sorted({g for d in data.values() for g in d})
            out += [f"## {title} ({METRIC_BY_NAME[PRIMARY].label})", "",
                    _md_table(["group", *labels], [[g] + [data[s][g].format() for s in labels] for g in groups]), ""]
    out += _md_drilldown(p, drill_limit)
    return "\n".join(out) + "\n"


def _md_drilldown(p: _Parts, limit: int | None) -> list[str]:
    run = p.run
    order = regression_order(run, p.baseline)
    shown = order if limit is None else order[:limit]
    out = [f"## Questions, worst regressions against {p.baseline} first"
           + (f" (first {len(shown)} of {len(order)}; all in report.html)" if len(shown) < len(order) else ""), ""]
    for q, delta in shown:
        gold = " / ".join(q.golds) or ("(unanswerable)" if q.answerable is False else "(no reference)")
        out += [f"### {q.qid} ({q.lang}, {q.topic or '-'}; Δ {delta:+.2f})", "", f"**Q:** {q.text}", "",
                f"**Gold:** {gold}" + (f" — {', '.join(q.gold_sources)}" if q.gold_sources else ""), ""]
        for s in run.systems:
            a = s.answers.get(q.qid)
            sc = s.scores.get(q.qid, {})
            score = "" if PRIMARY not in sc else f" ({PRIMARY} {sc[PRIMARY]:.0f}, f1 {sc.get('f1', math.nan):.2f})"
            text = _answer_line(a) if a is not None else f"(error: {s.errors.get(q.qid, 'not answered')})"
            out.append(f"- **{s.label}**{score}: {text[:600]}")
        out.append("")
    return out


# -- HTML -------------------------------------------------------------------------------------------
_CSS = """body{font-family:system-ui,'Noto Sans CJK JP',sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f3f3f3}td.m{white-space:nowrap}img{max-width:100%;border:1px solid #eee;margin:.5em 0}
details{margin:.4em 0;border:1px solid #ddd;padding:.3em .6em}summary{cursor:pointer}.ctx{color:#555;font-size:12px}
.note{background:#fff7d6;padding:.5em;border:1px solid #e6d38a}.ans{margin:.3em 0 .3em 1em}.bad{color:#b00}"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='m'>{_e(c)}</td>" if i else f"<td>{_e(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(p: _Parts) -> str:
    run, labels = p.run, [s.label for s in p.run.systems]
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>ragqa evaluation report</title>",
             f"<style>{_CSS}</style></head><body><h1>Evaluation report</h1><h2>Run</h2>",
             _html_table(["", ""], [list(r) for r in _metadata_rows(run)])]
    notes = run.manifest.get("last_run", {}).get("notes") or []
    if notes:
        parts.append("<p>Notes:</p><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes[:50]) + "</ul>")
    if p.font_note:
        parts.append(f"<p class='note'>{_e(p.font_note)}</p>")
    rows = [[f"{METRIC_BY_NAME[m].label} ({METRIC_BY_NAME[m].group})"] + [p.table[s][m].format() for s in labels]
            for m in p.metrics] + [[name, *vals] for name, vals in _count_rows(run)]
    parts += ["<h2>Summary</h2><p>value [95 % bootstrap interval] n</p>", _html_table(["metric", *labels], rows),
              "<h2>Plots</h2>"]
    for title, png in p.plots:
        parts.append(f"<h3>{_e(title)}</h3><img alt='{_e(title)}' src='data:image/png;base64,"
                     f"{base64.b64encode(png).decode('ascii')}'>")
    for title, data in (("Per language", p.by_lang), ("Per topic", p.by_topic)):
        if data:
            groups = sorted({g for d in data.values() for g in d})
            parts += [f"<h2>{title} ({_e(METRIC_BY_NAME[PRIMARY].label)})</h2>",
                      _html_table(["group", *labels], [[g] + [data[s][g].format() for s in labels] for g in groups])]
    parts.append(_html_drilldown(p))
    return "".join(parts) + "</body></html>\n"


def _html_answer(s: Any, qid: str) -> str:
    a = s.answers.get(qid)
    if a is None:
        return f"<div class='ans bad'><b>{_e(s.label)}</b>: error: {_e(s.errors.get(qid, 'not answered'))}</div>"
    sc = s.scores.get(qid, {})
    score = ", ".join(f"{k} {v:.2f}" for k, v in sc.items() if k in ("gold_in", "f1", "cite_gold", "ragas_chrf")
                      and v is not None)
    ctx = "".join(f"<li>[{i}] {_e(h.chunk.source)}{'' if h.chunk.page is None else f' p.{h.chunk.page}'}: "
                  f"{_e(h.chunk.text[:SNIPPET])}</li>" for i, h in enumerate(a.contexts, 1))
    return (f"<div class='ans'><b>{_e(s.label)}</b> <span class='ctx'>({_e(score)}; {a.timings.get('total', 0):.2f} s)"
            f"</span><br>{_e(_answer_line(a))}"
            + (f"<details><summary>contexts ({len(a.contexts)})</summary><ul class='ctx'>{ctx}</ul></details>" if ctx else "")
            + "</div>")


def _html_drilldown(p: _Parts) -> str:
    out = [f"<h2>Questions, worst regressions against {_e(p.baseline)} first</h2>"]
    for q, delta in regression_order(p.run, p.baseline):
        gold = " / ".join(q.golds) or ("(unanswerable)" if q.answerable is False else "(no reference)")
        src = f" — {', '.join(q.gold_sources)}" if q.gold_sources else ""
        out.append(f"<details><summary>{_e(q.qid)} ({_e(q.lang)}, {_e(q.topic or '-')}; Δ {delta:+.2f}): "
                   f"{_e(q.text)}</summary><p><b>Gold:</b> {_e(gold)}{_e(src)}</p>"
                   + "".join(_html_answer(s, q.qid) for s in p.run.systems) + "</details>")
    return "".join(out)


# -- CSV / JSON ---------------------------------------------------------------------------------------
def render_csv(p: _Parts) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["system", "metric", "group", "value", "lo", "hi", "n"])
    for s, row in p.table.items():
        for m, e in row.items():
            d = e.to_dict()
            w.writerow([s, m, METRIC_BY_NAME[m].group, d["value"], d["lo"], d["hi"], d["n"]])
    return buf.getvalue()


def render_json(p: _Parts) -> dict[str, Any]:
    run = p.run
    return {
        "format_version": 1, "run": {k: run.manifest[k] for k in ("dataset", "systems", "scoring", "metadata")
                                     if k in run.manifest} | {"last_run": run.manifest.get("last_run")},
        "summary": {s: {m: e.to_dict() for m, e in row.items()} for s, row in p.table.items()},
        "per_language": {s: {g: e.to_dict() for g, e in d.items()} for s, d in p.by_lang.items()},
        "per_topic": {s: {g: e.to_dict() for g, e in d.items()} for s, d in p.by_topic.items()},
        "per_question": {q.qid: {s.label: s.scores.get(q.qid) for s in run.systems} for q in run.questions},
        "font_note": p.font_note,
    }


def write_report(out_dir: Path | str, *, baseline: str | None = None, dest: Path | str | None = None,
                 md_drill_limit: int | None = None) -> ReportFiles:
    """Write report.html, report.md, summary.csv and summary.json into ``dest`` (default: the run folder)."""
    p = _parts(load_run(out_dir), baseline)
    where = Path(dest) if dest is not None else Path(out_dir)
    where.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(where / "report.html", where / "report.md", where / "summary.csv", where / "summary.json")
    files.html.write_text(render_html(p), encoding="utf-8")
    files.markdown.write_text(render_markdown(p, md_drill_limit), encoding="utf-8")
    files.csv.write_text(render_csv(p), encoding="utf-8")
    files.json.write_text(json.dumps(render_json(p), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return files
