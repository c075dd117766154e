"""The adapters keep ragqa light: importing rag_app (or rag_app.adapters) loads no framework, and
an adapter whose framework is missing says how to install it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FRAMEWORKS = ("langchain", "langchain_core", "llama_index")


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)


def loaded_after(code: str) -> list[str]:
    out = run(f"{code}\nimport sys\nprint(','.join(m for m in {FRAMEWORKS!r} if m in sys.modules))")
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]


def test_importing_rag_app_and_the_adapters_package_loads_no_framework() -> None:
    assert loaded_after("import rag_app, rag_app.adapters\nfrom rag_app.adapters import hit_metadata") == []


def test_adapters_load_their_framework_on_first_use() -> None:
    pytest.importorskip("langchain_core", reason="langchain-core is not installed: pip install 'ragqa[langchain]'")
    pytest.importorskip("llama_index.core", reason="llama-index-core is not installed: pip install 'ragqa[llama-index]'")
    assert loaded_after("from rag_app.adapters import RagqaLangChainRetriever") == ["langchain_core"]
    assert "llama_index" in loaded_after("from rag_app.adapters import RagqaLlamaIndexRetriever")


@pytest.mark.parametrize(("module", "blocked", "extra"), [
    ("rag_app.adapters.langchain", "langchain_core", "langchain"),
    ("rag_app.adapters.llama_index", "llama_index", "llama-index"),
])
def test_a_missing_framework_names_the_install_command(module: str, blocked: str, extra: str) -> None:
    out = run(f"import sys\nsys.modules[{blocked!r}] = None\nimport {module}")
    assert out.returncode != 0
    assert "ImportError: Ragqa" in out.stderr and f"pip install 'ragqa[{extra}]'" in out.stderr, out.stderr
