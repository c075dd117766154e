"""``ragqa eval``: run an evaluation, render its report, compare two runs.

Heavy modules (ragas, matplotlib, models) load inside the commands, so ``ragqa --help`` stays fast.
Exit codes: 0 success; 2 bad input (dataset, system, judge, metric, run folder); 130 interrupted
(what was computed is kept: run the same command again to continue).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

eval_app = typer.Typer(help="Evaluate systems on a question set: run, report, compare.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _input_errors() -> tuple[type[BaseException], ...]:
    from ingest.catalog import IndexMismatchError

    from .dataset import DatasetError
    from .judge import JudgeError
    from .store import RunDirError
    from .systems import SystemSpecError

    return (DatasetError, SystemSpecError, JudgeError, RunDirError, IndexMismatchError, ValueError, ImportError,
            FileNotFoundError)


@eval_app.command("run")
def run_cmd(
    dataset: Annotated[Path, typer.Option(help="Questions: qa.jsonl, SQuAD/JSQuAD JSON, ragas JSONL or CSV.")],
    systems: Annotated[list[str], typer.Option(
        help="Systems, comma-separated or repeated: extractive, rag:GEN, closed-book:GEN, ft:ADAPTER, "
             "rag+ft:ADAPTER; options in brackets, e.g. rag:smollm2[mode=bm25,top_k=3].")],
    out: Annotated[Path, typer.Option(help="Run folder: answers, traces, scores and the report go here.")],
    judge: Annotated[str | None, typer.Option(
        help="LLM judge for ragas's judged metrics: openai-compatible:MODEL@URL, openai:MODEL, anthropic:MODEL.")] = None,
    metrics: Annotated[str | None, typer.Option(
        help="ragas metrics, comma-separated (default: the offline ones, plus the judged ones with --judge; "
             "'' for none).")] = None,
    index: Annotated[Path | None, typer.Option(help="Index folder. Default: $RAGQA_INDEX or ./.ragqa")] = None,
    embedder: Annotated[str | None, typer.Option(help="The index's embedder (default: $RAGQA_EMBEDDER or e5).")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="llama.cpp threads for local GGUF models (default: every "
                                                          "core; 1 is faster on a busy machine).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N of a seeded shuffle of the questions.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of that shuffle.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="auto | qa | squad | ragas | questions")] = "auto",
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write the report when done.")] = True,
    config: Annotated[Path | None, typer.Option("--config", help="ragqa.toml to read.")] = None,
) -> None:
    """Answer every question with every system (resumable: stored answers are skipped), score, report."""
    from .runner import RunConfig, run
    from .systems import split_systems

    cfg = RunConfig(dataset=dataset, systems=tuple(s for item in systems for s in split_systems(item)), out_dir=out,
                    index_dir=index, embedder=embedder, threads=threads, config_file=config, judge=judge, limit=limit, seed=seed, dataset_format=fmt,
                    metrics=None if metrics is None else tuple(m.strip() for m in metrics.split(",") if m.strip()),
                    progress=sys.stderr.isatty())
    try:
        result = run(cfg)
    except KeyboardInterrupt:
        typer.echo(f"interrupted: the answers stored under {out} are kept; run the same command to continue",
                   err=True)
        raise typer.Exit(130) from None
    except _input_errors() as e:
        raise _fail(str(e)) from None
    for note in result.notes[:20]:
        typer.echo(f"note: {note}", err=True)
    for err in result.errors[:10]:
        typer.echo(f"failed: {err}", err=True)
    typer.echo(f"{result.answered} answered, {result.skipped} already stored, {len(result.errors)} failed; "
               f"{result.scored} scored ({result.score_failures} metric failures) -> {out}")
    if report:
        from .report import write_report

        files = write_report(out)
        typer.echo(f"report: {files.html}")


@eval_app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `ragqa eval run`.")],
    baseline: Annotated[str | None, typer.Option(help="System the drill-down orders regressions against (default: the first).")] = None,
    dest: Annotated[Path | None, typer.Option(help="Folder for the report files (default: the run folder).")] = None,
) -> None:
    """Write report.html (self-contained), report.md, summary.csv and summary.json."""
    from .report import write_report

    try:
        files = write_report(run_dir, baseline=baseline, dest=dest)
    except _input_errors() as e:
        raise _fail(str(e)) from None
    typer.echo(f"{files.html}\n{files.markdown}\n{files.csv}\n{files.json}")


@eval_app.command("compare")
def compare_cmd(
    dir_a: Annotated[Path, typer.Argument(help="The earlier run folder (A).")],
    dir_b: Annotated[Path, typer.Argument(help="The later run folder (B).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """B against A for every system in both: paired bootstrap per metric, and the questions that changed."""
    from .compare import compare_runs, render_comparison

    try:
        c = compare_runs(dir_a, dir_b)
    except _input_errors() as e:
        raise _fail(str(e)) from None
    if json_out:
        sys.stdout.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    else:
        typer.echo(render_comparison(c))
