"""ragqa's evaluation harness: every question of a dataset through every system, stored per
question (resumable), scored with 95 % bootstrap intervals, rendered as a report.

    import eval
    result = eval.run(dataset="docs_corpus/qa.jsonl", systems="extractive,rag:smollm2", out_dir="eval_runs/x")
    files = eval.write_report("eval_runs/x")          # report.html, report.md, summary.csv, summary.json
    diff = eval.compare_runs("eval_runs/x", "eval_runs/y")

Importing it loads no ragas, matplotlib, model or vendor SDK: they load on first use. The CLI is
``ragqa eval run / report / compare`` (``eval.cli``).
"""

from .compare import Comparison, compare_runs, render_comparison
from .dataset import Dataset, DatasetError, LineProblem, Question, load_dataset
from .judge import JudgeError, JudgeSpec, parse_judge
from .report import ReportFiles, write_report
from .runner import RunConfig, RunResult, run
from .stats import Estimate, PairedDiff, bootstrap, paired_bootstrap
from .store import RunDirError
from .summary import RunData, SystemRun, load_run, summary_table
from .systems import SystemSpec, SystemSpecError, parse_system, parse_systems

__all__ = [
    "Comparison",
    "Dataset",
    "DatasetError",
    "Estimate",
    "JudgeError",
    "JudgeSpec",
    "LineProblem",
    "PairedDiff",
    "Question",
    "ReportFiles",
    "RunConfig",
    "RunData",
    "RunDirError",
    "RunResult",
    "SystemRun",
    "SystemSpec",
    "SystemSpecError",
    "bootstrap",
    "compare_runs",
    "load_dataset",
    "load_run",
    "paired_bootstrap",
    "parse_judge",
    "parse_system",
    "parse_systems",
    "render_comparison",
    "run",
    "summary_table",
    "write_report",
]
