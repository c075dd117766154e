"""Fixtures of the evaluation-harness tests: docs_corpus ingested with the hashing embedder (real
Chroma and BM25, instant embeddings), a small qa.jsonl sample of it, and a run folder made by
``eval.run`` with the extractive system (plus a second one with other retrieval settings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
QA_FILE = REPO / "docs_corpus" / "qa.jsonl"
SAMPLE_IDS = ("q001", "q002", "q009", "q018", "q040", "q041", "q060", "q061", "q090", "q100")


@pytest.fixture(scope="session")
def hashing_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings

    index = tmp_path_factory.mktemp("eval-index") / "idx"
    report = Ingestor(IndexSettings(index_dir=index, embedder="hashing")).run([REPO / "docs_corpus"])
    assert report.files_failed == [], report.files_failed
    return index


@pytest.fixture(scope="session")
def qa_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [json.loads(line) for line in QA_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    path = tmp_path_factory.mktemp("qa") / "qa-sample.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows if r["id"] in SAMPLE_IDS),
                    encoding="utf-8")
    return path


def _run_config(dataset: Path, out: Path, index: Path, systems: tuple[str, ...] = ("extractive",), **kw: Any) -> Any:
    from eval.runner import RunConfig

    return RunConfig(dataset=dataset, systems=systems, out_dir=out, index_dir=index, embedder="hashing",
                     progress=False, **kw)


@pytest.fixture(scope="session")
def run_config() -> Any:
    """``run_config(dataset, out, index, systems=..., **RunConfig fields)``: offline, no progress bar."""
    return _run_config


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, hashing_index: Path, qa_sample: Path) -> Path:
    """extractive and extractive[top_k=2] over the sample, offline ragas metrics included."""
    from eval.runner import run

    out = tmp_path_factory.mktemp("run") / "out"
    run(_run_config(qa_sample, out, hashing_index, ("extractive", "extractive[top_k=2]")))
    return out
