"""Every ```python block of docs/python-api.md runs, in order, as one script, over the sample
corpus index (the session's ``corpus_index``, built with the default embedder), with the
network blocked: the guide cannot drift from the API."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "python-api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_the_guide_has_examples_for_every_section() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for section in ("Construct", "Ask", "Stream", "Search", "Groups and filters", "History", "status",
                    "Errors", "The `Answer`", "The prompt", "Thread safety", "Your own retriever"):
        assert section in text, section
    assert len(python_blocks(text)) >= 12


@pytest.mark.slow
@pytest.mark.network_blocked
def test_every_example_runs(corpus_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".ragqa").symlink_to(corpus_index, target_is_directory=True)
    (tmp_path / "docs_corpus").symlink_to(REPO / "docs_corpus", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for var in ("RAGQA_INDEX", "RAGQA_CONFIG", "RAGQA_GENERATOR", "RAGQA_MODE", "RAGQA_EMBEDDER"):
        monkeypatch.delenv(var, raising=False)
    scope: dict[str, object] = {}
    for i, block in enumerate(python_blocks(GUIDE.read_text(encoding="utf-8")), 1):
        try:
            exec(compile(block, f"{GUIDE.name} example {i}", "exec"), scope)
        except Exception as e:  # name the example that failed
            raise AssertionError(f"example {i} of {GUIDE} failed: {type(e).__name__}: {e}\n{block}") from e
    assert os.path.isdir(tmp_path / "my_index")
