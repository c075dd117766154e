"""Importing the core must stay light: no torch, vendor SDKs, ragas or Chroma at import time,
and `ragqa --help` must answer without loading them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sentence_transformers", "openai", "anthropic", "ragas", "chromadb",
         "llama_cpp", "langchain_core", "llama_index")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    return [m for m in out.stdout.strip().split(",") if m]


def test_core_packages_import_without_heavy_dependencies() -> None:
    assert _loaded_after("import ingest, retrieval, rag_app, eval") == []


def test_building_objects_loads_nothing_heavy() -> None:
    code = (
        "from pathlib import Path\n"
        "from ingest.embedders import get_embedder\n"
        "from rag_app import RAG\n"
        "get_embedder('e5'); get_embedder('minilm'); get_embedder('e5-torch')\n"
        "RAG.from_config(index_dir=Path('/nonexistent'))\n"
    )
    assert _loaded_after(code) == []


def test_cli_help_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from rag_app.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0 and 'ingest' in r.output, r.output\n"
        "for cmd in ('ingest', 'search', 'ask', 'status'):\n"
        "    assert CliRunner().invoke(app, [cmd, '--help']).exit_code == 0\n"
    )
    assert _loaded_after(code) == []
