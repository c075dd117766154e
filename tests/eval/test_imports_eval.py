"""The eval modules the CLI imports load no ragas, matplotlib, torch or vendor SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("ragas", "matplotlib", "torch", "transformers", "openai", "anthropic", "chromadb", "llama_cpp", "pandas")


def test_eval_modules_import_light() -> None:
    code = ("import sys, eval, eval.cli, eval.runner, eval.report, eval.compare, eval.summary, eval.judge\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         timeout=120)
    assert out.stdout.strip() == ""
